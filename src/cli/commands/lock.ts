/**
 * `tsexec lock SCRIPT…`: resolves every declared input that tsexec.lock does
 * not pin yet (or pins for an older declaration) and writes the lock beside
 * the scripts; entries no script declares any more are removed. Locked
 * entries are left byte for byte as they are.
 */
import { dirname } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { locateScript } from "../../runtime/loader/index.js";
import { relockDirectory, type LockOutcome } from "../../inputs/locked.js";
import { UsageError } from "../options.js";
import type { CommandRun } from "./command.js";

export const run: CommandRun = async ({ args, ctx }) => {
  if (args.length === 0) throw new UsageError("lock takes the scripts whose inputs to lock: tsexec lock SCRIPT…");
  const byDirectory = new Map<string, string[]>();
  for (const arg of args) {
    const file = locateScript(arg);
    const files = byDirectory.get(dirname(file)) ?? [];
    if (!files.includes(file)) files.push(file);
    byDirectory.set(dirname(file), files);
  }
  for (const [dir, files] of byDirectory) report(await relockDirectory(dir, files, new Map(), ctx));
  return 0;
};

/** One line per change, then what became of the file; a lock that cannot be written is an error. */
export function report(outcome: LockOutcome, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  const lines = outcome.changes.map((c) =>
    c.new === undefined
      ? `${c.script}: ${c.name} removed (was ${c.old}): no longer declared`
      : `${c.script}: ${c.name} ${c.old ?? "(not locked)"} → ${c.new}${c.old === c.new ? " (unchanged)" : ""}`,
  );
  if (outcome.status === "read-only") {
    throw new TsexecError(`cannot write ${outcome.lockFile}: its directory is read-only; nothing was changed`);
  }
  lines.push(outcome.status === "written" ? `wrote ${outcome.lockFile}` : `${outcome.lockFile} is up to date`);
  write(lines.join("\n") + "\n");
}
