/**
 * tsexec's public API: types for script authors, the IO constructors, the
 * fp-ts instances and a programmatic `run`.
 *
 *     import { defineScript } from "tsexec";
 *     export default defineScript(({ args, lib }) => lib.io(() => console.log(args)));
 */
import type { IO } from "./monad/io.js";
import type { Lib } from "./runtime/lib.js";
import { run as runWith } from "./runtime/interpreter.js";
import { ambientContext, makeContext, type ContextOptions } from "./runtime/context.js";
export type { ContextOptions } from "./runtime/context.js";

export type { IO, Yielded, Either, PrimitiveContext } from "./monad/io.js";
export type { Lib, Builtins } from "./runtime/lib.js";
export type { FetchgitArgs } from "./builtins/fetchgit/index.js";
export type { HasOutPath } from "./builtins/reexec.js";
export type { Configuration, Version } from "./runtime/package.js";
export type { Derivation, DerivationInput, DerivationSpec } from "./builtins/derivation/index.js";
export type { NativeSignature, Dlopen } from "./builtins/dlopen/index.js";
export { unit, map, join, bind, mapM, io, task, attempt, defer, primitive, isIO, ensuring, bracket, uninterruptible } from "./monad/io.js";
export { all, allSettled, mapPar, race, timeout, sleep, exit, ApplicativePar, type ParallelOptions } from "./runtime/concurrency.js";
export { exec, ExecError, type ExecOptions, type ExecResult } from "./builtins/exec/index.js";
export type { CommandIO, Dollar, DollarOptions } from "./builtins/exec/template.js";
export { URI, Functor, Pointed, Apply, Applicative, Chain, Monad, ChainRec } from "./monad/instances.js";
export { unsafePerformIO } from "./builtins/unsafe-perform-io.js";
export { TsexecError } from "./runtime/errors.js";
export { isDerivation } from "./builtins/derivation/derivation.js";
export { makeLib } from "./runtime/lib.js";
/** The `tsexec` command itself (the launcher calls it): resolves to the exit code. */
export { main } from "./runtime/cli.js";

/** What a script's default export receives. */
export interface ScriptInput {
  /** The script name as typed, then its arguments. */
  readonly args: readonly string[];
  readonly lib: Lib;
}

/** A tsexec script: the default export of a module tsexec runs. */
export type Script<A = unknown> = (input: ScriptInput) => IO<A>;

/** Identity, for type inference: `export default defineScript(({ args, lib }) => ...)`. */
export function defineScript<A>(script: Script<A>): Script<A> {
  return script;
}

/** Runs an IO value to completion outside the tsexec CLI. */
export function run<A>(io: IO<A>, options?: ContextOptions): Promise<A> {
  return runWith(io, options ? makeContext(options) : ambientContext());
}
