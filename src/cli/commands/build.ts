/**
 * `tsexec build SCRIPT|REF[#NAME] [--out-link PATH | --no-link]` (Nix's
 * `nix build`): evaluates a script whose default export is a derivation, an
 * object of derivations (`#NAME` selects one), or a script function whose IO
 * yields either; builds it; prints the output path; and makes `./result` (or
 * PATH) a symbolic link to it that `tsexec gc` keeps as a root
 * (`<cache>/gcroots/auto/<hash>` → the link, as Nix's gcroots/auto).
 */
import { lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { isIO, type PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { uniqueSuffix } from "../../base/files.js";
import { printable } from "../../base/printable.js";
import { sha256Hex } from "../../base/sha256.js";
import { run as runIO } from "../../runtime/interpreter.js";
import { defaultExport, importScript } from "../../runtime/loader/index.js";
import { makeLib } from "../lib.js";
import { UsageError } from "../options.js";
import type { CommandRun } from "./command.js";
import { locateAny } from "./run.js";
import { buildOutput, locatePackage, select } from "./run/package.js";

const usage = "tsexec build SCRIPT|REF[#NAME] [--out-link PATH | --no-link]";

export const run: CommandRun = async ({ args, ctx }) => {
  let outLink: string | undefined = "result";
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--no-link") outLink = undefined;
    else if (arg === "--out-link" || arg === "-o" || arg.startsWith("--out-link=")) {
      outLink = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i];
      if (!outLink) throw new UsageError(`--out-link needs a path: ${usage}`);
    } else if (arg.startsWith("-") && targets.length === 0) throw new UsageError(`build does not take '${printable(arg)}': ${usage}`);
    else targets.push(arg);
  }
  if (targets.length !== 1) throw new UsageError(`build takes one script or reference: ${usage}`);
  const typed = targets[0]!;
  const { file, selector } = await locatePackage(typed, ctx, locateAny);
  const drv = select(await evaluate(typed, file, ctx), selector, typed);
  const out = await buildOutput(drv, file, ctx);
  if (outLink !== undefined) makeOutLink(resolve(outLink), out, ctx.cacheDir);
  process.stdout.write(`${out}\n`);
  return 0;
};

/** The script's default export: called (with `{ args, lib, inputs }`) if a function, run if an IO. */
async function evaluate(typed: string, file: string, ctx: PrimitiveContext): Promise<unknown> {
  const { namespace, inputs: declaration } = await importScript(file, ctx.cacheDir);
  let value = defaultExport(namespace);
  if (typeof value === "function") {
    const inputs =
      declaration === undefined || Object.keys(declaration).length === 0
        ? {}
        : await (await import("../../inputs/locked.js")).provideInputs(file, declaration, ctx);
    value = (value as (input: unknown) => unknown)({ args: [typed], lib: makeLib({ dir: dirname(file) }), inputs });
  }
  if (isIO(value)) value = await runIO(value, ctx);
  return value;
}

/** `link` → `out`, replacing only a symbolic link; registered in `<cache>/gcroots/auto/`. */
function makeOutLink(link: string, out: string, cacheDir: string): void {
  const stat = lstatSync(link, { throwIfNoEntry: false });
  if (stat !== undefined && !stat.isSymbolicLink()) {
    throw new TsexecError(`--out-link ${printable(link)} exists and is not a symbolic link: remove it, or choose another with --out-link PATH`);
  }
  replaceLink(link, out);
  const roots = join(cacheDir, "gcroots", "auto");
  mkdirSync(roots, { recursive: true });
  replaceLink(join(roots, sha256Hex(link).slice(0, 32)), link);
}

function replaceLink(path: string, target: string): void {
  try {
    if (readlinkSync(path) === target) return;
  } catch {
    // missing
  }
  const temp = `${path}.${uniqueSuffix()}.tmp`;
  symlinkSync(target, temp);
  try {
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new TsexecError(`cannot make the link ${printable(path)} (${(error as NodeJS.ErrnoException).code})`);
  }
}

