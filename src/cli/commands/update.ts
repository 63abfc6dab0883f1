/**
 * `tsexec update SCRIPT [INPUT…]`: re-resolves the named inputs of SCRIPT
 * (all of them when none is named) against their remotes — one round trip
 * each, never one per entry of the lock — and prints `old → new` for each.
 * Every other entry of tsexec.lock keeps its bytes.
 */
import { dirname } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { locateScript } from "../../runtime/loader/index.js";
import { declarationOf, relockDirectory } from "../../inputs/locked.js";
import { UsageError } from "../options.js";
import type { CommandRun } from "./command.js";
import { report } from "./lock.js";

export const run: CommandRun = async ({ args, ctx }) => {
  if (args.length === 0) throw new UsageError("update takes a script, then the inputs to update (all when none): tsexec update SCRIPT [INPUT…]");
  const file = locateScript(args[0]!);
  const names = args.slice(1);
  const declared = Object.keys(declarationOf(file));
  for (const name of names) {
    if (!declared.includes(name)) {
      throw new TsexecError(`${args[0]} declares no input '${name}' (${declared.length ? `its inputs: ${declared.join(", ")}` : "it declares no inputs"})`);
    }
  }
  report(await relockDirectory(dirname(file), [file], new Map([[file, names.length > 0 ? names : "all"]]), ctx));
  return 0;
};
