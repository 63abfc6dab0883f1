/**
 * tsexec's public API: types for script authors, the IO constructors, the
 * fp-ts instances and a programmatic `run`.
 *
 *     import { defineScript } from "tsexec";
 *     export default defineScript(({ args, lib }) => lib.io(() => console.log(args)));
 */
import type { IO } from "./monad/io.js";
import type { Lib } from "./cli/lib.js";
import type { Input, InputSpec } from "./runtime/loader/inputs-declaration.js";
import { run as runWith } from "./runtime/interpreter.js";
import { makeExec } from "./builtins/exec/template.js";
import { loadPipeline } from "./cli/on-first-use.js";
import { ambientContext, makeContext, type ContextOptions } from "./base/context.js";
export type { ContextOptions } from "./base/context.js";

export type { IO, Yielded, Either, PrimitiveContext } from "./monad/io.js";
export type { Lib, Builtins } from "./cli/lib.js";
export type { FetchgitArgs } from "./builtins/fetchgit/index.js";
export type { Input, InputSpec, InputObjectSpec } from "./runtime/loader/inputs-declaration.js";
export type { ImportBase } from "./builtins/import/index.js";
export type { HasOutPath } from "./builtins/reexec/index.js";
export type { Configuration, Version } from "./base/package.js";
export type { Derivation, DerivationInput, DerivationSpec } from "./builtins/derivation/index.js";
export type { NativeSignature, Dlopen } from "./builtins/dlopen/index.js";
export { unit, map, join, bind, mapM, io, task, attempt, defer, primitive, isIO, ensuring, bracket, uninterruptible } from "./monad/io.js";
export { all, allSettled, mapPar, race, timeout, sleep, exit, ApplicativePar, type ParallelOptions } from "./runtime/concurrency.js";
export { ExecError, type ExecOptions, type ExecResult } from "./builtins/exec/index.js";
/** `exec(file, args?, options?)`: runs a program (no shell), as lib.exec. */
export const exec = makeExec(loadPipeline);
export type { CommandIO, Dollar, DollarOptions } from "./builtins/exec/template.js";
export type { LineStream } from "./builtins/exec/index.js";
export { URI, Functor, Pointed, Apply, Applicative, Chain, Monad, ChainRec } from "./monad/instances.js";
export { unsafePerformIO } from "./builtins/unsafe-perform-io/index.js";
export { TsexecError } from "./base/errors.js";
import { hasDerivationBrand } from "./builtins/derivation/brand.js";
import type { Derivation } from "./builtins/derivation/value.js";
/** A value made by lib.toFile, lib.runCommand or lib.derivation (the brand alone: the Derivation class stays out of start-up). */
export const isDerivation: (value: unknown) => value is Derivation = hasDerivationBrand as (value: unknown) => value is Derivation;
export { makeLib } from "./cli/lib.js";
/** The `tsexec` command itself (the launcher calls it): resolves to the exit code. */
export { main } from "./cli/main.js";

/** A script's `export const inputs = { … }`: each name → a reference string or `{ url, ref, rev, submodules, dir }`. */
export type InputsSpec = Readonly<Record<string, InputSpec>>;

/** What a script's default export receives. `I`: its declared inputs (`typeof inputs`). */
export type ScriptInput<I extends InputsSpec = {}> = {
  /** The script name as typed, then its arguments. */
  readonly args: readonly string[];
  readonly lib: Lib;
} & ([keyof I] extends [never]
  ? {
      /** A script without declared inputs receives none (and callers need not pass any). */
      readonly inputs?: Readonly<Record<string, never>>;
    }
  : {
      /** Each declared input, fetched (through tsexec.lock): a read-only checkout; `${inputs.name}` is its path. */
      readonly inputs: { readonly [K in keyof I]: Input };
    });

/** A tsexec script: the default export of a module tsexec runs. `I`: its declared inputs. */
export type Script<A = unknown, I extends InputsSpec = {}> = (input: ScriptInput<I>) => IO<A>;

/**
 * Identity, for type inference: `export default defineScript(({ args, lib }) => ...)`.
 * With inputs, pass them first, so their names are checked:
 * `export default defineScript(inputs, ({ inputs, lib }) => ...)`.
 */
export function defineScript<A>(script: Script<A>): Script<A>;
export function defineScript<const I extends InputsSpec, A>(inputs: I, script: Script<A, I>): Script<A, I>;
export function defineScript(first: unknown, second?: unknown): unknown {
  return second === undefined ? first : second;
}

/** Runs an IO value to completion outside the tsexec CLI. */
export function run<A>(io: IO<A>, options?: ContextOptions): Promise<A> {
  return runWith(io, options ? makeContext(options) : ambientContext());
}
