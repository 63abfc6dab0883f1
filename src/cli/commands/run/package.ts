/**
 * Package sets: a script whose default export is a derivation or an object of
 * derivations. `tsexec build` builds one; `tsexec REF#NAME` of such a script
 * builds the derivation NAME selects and runs its `$out/bin/NAME` (nix run of
 * a package).
 */
import { spawn } from "node:child_process";
import { lstatSync } from "node:fs";
import { dirname, join } from "node:path";
import { isIO, type PrimitiveContext } from "../../../monad/io.js";
import { describeValue } from "../../../monad/describe.js";
import { TsexecError } from "../../../base/errors.js";
import { printable } from "../../../base/printable.js";
import { run as runIO } from "../../../runtime/interpreter.js";
import { isDerivation, type Derivation } from "../../../builtins/derivation/value.js";
import { makeLib } from "../../lib.js";

/**
 * The script a target names, and the `#NAME` selecting a derivation of a
 * package set (package-run.ts):
 * `REF#NAME` is first an app or a path (as for running); when it is neither,
 * NAME selects from the default script of `REF`.
 */
export async function locatePackage(
  typed: string,
  ctx: PrimitiveContext,
  locateAny: (typed: string, ctx: PrimitiveContext) => Promise<string>,
  first?: unknown,
): Promise<{ file: string; selector: string | undefined }> {
  const hashAt = typed.lastIndexOf("#");
  try {
    if (first !== undefined) throw first;
    return { file: await locateAny(typed, ctx), selector: undefined };
  } catch (error) {
    const fragment = hashAt < 0 ? "" : typed.slice(hashAt + 1);
    if (!(error instanceof TsexecError) || !/^[A-Za-z0-9_][A-Za-z0-9._+-]*$/.test(fragment) || fragment.includes(".")) throw error;
    let file: string;
    try {
      file = await locateAny(typed.slice(0, hashAt), ctx);
    } catch {
      throw error;
    }
    return { file, selector: fragment };
  }
}

/** A derivation, or an object of them (what `tsexec REF#NAME` runs as a package). */
export function isPackageSet(value: unknown): boolean {
  if (isDerivation(value)) return true;
  if (typeof value !== "object" || value === null || Array.isArray(value) || isIO(value)) return false;
  const values = Object.values(value);
  return values.length > 0 && values.every(isDerivation);
}

export function select(value: unknown, selector: string | undefined, typed: string): Derivation {
  if (isDerivation(value)) {
    if (selector === undefined || selector === value.name) return value;
    throw new TsexecError(`${printable(typed)}: the script yields one derivation, ${value.name}, not '${printable(selector)}'`);
  }
  if (typeof value === "object" && value !== null && !isIO(value)) {
    const record = value as Record<string, unknown>;
    const names = Object.keys(record).filter((k) => isDerivation(record[k]));
    const name = selector ?? (names.length === 1 ? names[0] : undefined);
    if (name === undefined) {
      throw new TsexecError(`${printable(typed)} yields several derivations (${names.join(", ")}): choose one with #NAME`);
    }
    if (Object.hasOwn(record, name) && isDerivation(record[name])) return record[name];
    throw new TsexecError(`${printable(typed)} has no derivation '${printable(name)}' (it has ${names.join(", ") || "none"})`);
  }
  throw new TsexecError(
    `${printable(typed)} does not yield a derivation (it yields ${describeValue(value)}): its default export must be a derivation, an object of derivations, or a function whose IO yields one`,
  );
}

export async function buildOutput(drv: Derivation, file: string, ctx: PrimitiveContext): Promise<string> {
  return runIO(makeLib({ dir: dirname(file) }).build(drv), ctx);
}

/** `tsexec REF#NAME` of a package set: builds the derivation and runs `$out/bin/NAME` with the arguments; resolves to its exit code. */
export async function runPackage(typed: string, value: unknown, selector: string | undefined, args: readonly string[], file: string, ctx: PrimitiveContext): Promise<number> {
  const drv = select(value, selector, typed);
  const out = await buildOutput(drv, file, ctx);
  const program = join(out, "bin", selector ?? drv.name);
  if (lstatSync(program, { throwIfNoEntry: false }) === undefined) {
    throw new TsexecError(`${printable(typed)}: the output ${out} has no bin/${printable(selector ?? drv.name)} to run`);
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, [...args], { stdio: "inherit" });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, forward);
    const done = () => {
      for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(s, forward);
    };
    child.on("error", (error: NodeJS.ErrnoException) => {
      done();
      reject(new TsexecError(`cannot run ${program}: ${error.code ?? error.message}`));
    });
    child.on("exit", (code, signal) => {
      done();
      resolvePromise(code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 129));
    });
  });
}
