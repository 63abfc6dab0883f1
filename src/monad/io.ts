/**
 * The IO data type: a program is a tree of plain nodes that describes effects
 * without running them. `src/runtime/interpreter.ts` walks the tree.
 *
 * Every node is an instance of one class with the same three fields, so the
 * interpreter's property reads stay monomorphic (one hidden class for V8).
 * A node is immutable and is never memoised: running it twice runs its
 * effects twice, as in nix-exec.
 */
import { traced } from "./trace.js";
import { describeFunction, describeValue } from "./describe.js";

/** The runtime context handed to primitives when they run (see runtime/context.ts). */
export interface PrimitiveContext {
  readonly cacheDir: string;
  readonly verbose: boolean;
  /** True while `unsafePerformIO` is running this program synchronously. */
  readonly synchronous: boolean;
  /** Writes one diagnostic line to stderr, prefixed with `tsexec: `. */
  log(line: string): void;
  /** Options later primitives read (offline, pinned-only, argv ...). */
  readonly options: Readonly<Record<string, unknown>>;
}

export const enum Tag {
  /** `_a` is the value. */
  Pure = 0,
  /** `_a` is a thunk `() => A`. */
  Sync = 1,
  /** `_a` is a thunk `() => PromiseLike<A>` (a `lib.task`, named after the function). */
  Async = 2,
  /** `_a` is the inner IO, `_b` is `a => b`. */
  Map = 3,
  /** `_a` is the inner IO, `_b` is `a => IO<b>` (bind and join). */
  Chain = 4,
  /** `_a` is `ctx => IO<A>`, `_b` is the label `--verbose` prints. */
  Primitive = 5,
  /** `_a` is the inner IO; failures become `Left`, values `Right` (interruption is never caught). */
  Attempt = 6,
  /**
   * A step that completes through a callback: `_a` is `(ctx, done) => cancel | undefined`,
   * `_b` names the step. `done(failed, value)` is called once. When the fiber is interrupted
   * while it waits, `cancel` (if any) is called and the fiber still waits for `done`, so the
   * step can stop what it started (kill a child, release a lock) before the fiber unwinds.
   * Refused by `unsafePerformIO` before it starts.
   */
  Suspend = 7,
  /**
   * The same shape as `Suspend`, for combinators over other IO values (all, race, timeout):
   * allowed under `unsafePerformIO`, where it must call `done` before it returns.
   */
  Concurrent = 8,
  /** `_a` is the inner IO, `_b` the finalizer IO: it runs once `_a` succeeds, fails or is interrupted. */
  Ensuring = 9,
  /** `_a` is the inner IO, `_b` is +1 (interruption held off while `_a` runs) or -1 (let through again). */
  Mask = 10,
  /** Internal frame: the outcome (`_a`) put aside while a finalizer runs; `_b` is true when it is a failure. */
  Restore = 11,
  /** Internal frame: the functions of a long chain of maps (`_a`, innermost first), applied in one loop. */
  Maps = 12,
}

const brand: unique symbol = Symbol.for("tsexec.io");

/** An IO value: a description of a program that yields an `A` when run. */
export interface IO<A> {
  readonly [brand]: (_: never) => A;
  /** `lib.map(f, this)`. */
  map<B>(f: (a: A) => B): IO<B>;
  /** `lib.bind(this, f)`. */
  bind<B>(f: (a: A) => IO<B>): IO<B>;
}

/** The yielded type of an IO value. */
export type Yielded<T> = T extends IO<infer A> ? A : never;

export class Node {
  declare readonly [brand]: (_: never) => unknown;
  constructor(
    readonly _tag: Tag,
    readonly _a: any,
    readonly _b: any,
  ) {}
  map(f: (a: any) => unknown): IO<any> {
    return map(f, this as IO<any>);
  }
  bind(f: (a: any) => IO<unknown>): IO<any> {
    return bind(this as IO<any>, f);
  }
}
// A real (non-enumerable) brand so IO values from another copy of tsexec are recognised.
Object.defineProperty(Node.prototype, brand, { value: brand });

export function isIO(value: unknown): value is IO<unknown> {
  return typeof value === "object" && value !== null && (value as any)[brand] === brand;
}

function expectFunction(where: string, f: unknown, hint: string): void {
  if (typeof f !== "function") {
    throw new TypeError(`${where} expects a function ${hint}, got ${describeValue(f)}`);
  }
}

function expectIO(where: string, io: unknown, hint: string): void {
  if (!isIO(io)) throw new TypeError(`${where} expects an IO value ${hint}, got ${describeValue(io)}`);
}

/** `unit a`: an IO that yields `a` and does nothing else. */
export function unit<A>(a: A): IO<A> {
  if (typeof a === "object" && a !== null && typeof (a as { then?: unknown }).then === "function") throw promiseGivenToUnit();
  return new Node(Tag.Pure, a, undefined) as unknown as IO<A>;
}

/** `map f io` (function first, as in nix-exec). */
export function map<A, B>(f: (a: A) => B, io: IO<A>): IO<B> {
  expectFunction("lib.map", f, "as its first argument (map f io)");
  expectIO("lib.map", io, "as its second argument (map f io)");
  return traced(new Node(Tag.Map, io, f), "mapping", f) as unknown as IO<B>;
}

/** `join io`: run `io`, then run the IO it yields. */
export function join<A>(io: IO<IO<A>>): IO<A> {
  expectIO("lib.join", io, "(join io)");
  return traced(new Node(Tag.Chain, io, joinIdentity), "joining", io) as unknown as IO<A>;
}

/** `bind io f`: run `io`, pass its value to `f`, run the IO `f` returns. */
export function bind<A, B>(io: IO<A>, f: (a: A) => IO<B>): IO<B> {
  expectIO("lib.bind", io, "as its first argument (bind io f)");
  expectFunction("lib.bind", f, "as its second argument (bind io f)");
  return traced(new Node(Tag.Chain, io, f), "binding", f) as unknown as IO<B>;
}

/** A synchronous effect: `f` runs each time the IO runs. */
export function io<A>(f: () => A): IO<A> {
  expectFunction("lib.io", f, "(io(() => value))");
  return traced(new Node(Tag.Sync, f, undefined), "running", f) as unknown as IO<A>;
}

/** An asynchronous effect: `f` is called each time the IO runs, and its promise awaited. */
export function task<A>(f: () => PromiseLike<A>): IO<A> {
  expectFunction("lib.task", f, "(task(() => promise))");
  // No label and no call site here (a program may hold 10^5 tasks): the interpreter names a task
  // from `f` when it must, and a rejected task's line is asked of V8 when the error is reported.
  return traced(new Node(Tag.Async, f, undefined), "awaiting", f) as unknown as IO<A>;
}

/**
 * A named asynchronous step, for primitives (fetchgit, builds). `label` is what
 * `unsafePerformIO` names when it refuses asynchronous work. An interrupted
 * fiber waits for the promise to settle (the runtime kills the children it
 * waits on), so the primitive's `finally` blocks release its locks first.
 */
export function asyncStep<A>(label: string, f: () => PromiseLike<A>): IO<A> {
  return suspendStep(label, (_ctx, done) => {
    Promise.resolve(f()).then(
      (value) => done(false, value),
      (error) => done(true, error),
    );
    return undefined;
  });
}

/** Completes a `suspendStep`/`concurrentStep`: `done(false, value)` or `done(true, error)`, once. */
export type Done<A> = (failed: boolean, value: A | unknown) => void;
/** Starts a callback step; the function it returns (if any) asks it to stop early. */
export type StartStep<A> = (ctx: PrimitiveContext, done: Done<A>) => (() => void) | undefined;

/** A step that completes through `done` (a child process, a timer): see `Tag.Suspend`. */
export function suspendStep<A>(label: string, start: StartStep<A>): IO<A> {
  return traced(new Node(Tag.Suspend, start, label), "running", label) as unknown as IO<A>;
}

/** A combinator over other IO values that completes through `done`: see `Tag.Concurrent`. */
export function concurrentStep<A>(label: string, start: StartStep<A>): IO<A> {
  return traced(new Node(Tag.Concurrent, start, label), "running", label) as unknown as IO<A>;
}

/**
 * `ensuring(io, finalizer)`: run `io`, then `finalizer` whether `io` succeeded,
 * failed or was interrupted; yield (or raise) what `io` did. The finalizer runs
 * once, with interruption held off; if it fails after `io` succeeded, its failure is raised.
 */
export function ensuring<A>(io: IO<A>, finalizer: IO<unknown>): IO<A> {
  expectIO("lib.ensuring", io, "as its first argument (ensuring io finalizer)");
  expectIO("lib.ensuring", finalizer, "as its second argument (ensuring io finalizer)");
  return traced(new Node(Tag.Ensuring, io, finalizer), "ensuring", io) as unknown as IO<A>;
}

/**
 * `bracket(acquire, use, release)`: acquire a resource, use it, release it. `acquire`
 * runs with interruption held off, and `release` is in place before interruption is
 * let through again, so an acquired resource is always released (exactly once, after
 * success, failure or interruption; nested brackets release in reverse order).
 */
export function bracket<R, A>(acquire: IO<R>, use: (resource: R) => IO<A>, release: (resource: R) => IO<unknown>): IO<A> {
  expectIO("lib.bracket", acquire, "as its first argument (bracket acquire use release)");
  expectFunction("lib.bracket", use, "as its second argument (bracket acquire use release)");
  expectFunction("lib.bracket", release, "as its third argument (bracket acquire use release)");
  const withResource = (resource: R): IO<A> =>
    ensuring(new Node(Tag.Mask, defer(() => use(resource)), -1) as unknown as IO<A>, defer(() => release(resource)));
  return traced(new Node(Tag.Mask, bind(acquire, withResource), 1), "bracketing", acquire) as unknown as IO<A>;
}

/** `uninterruptible(io)`: run `io` with interruption held off until it ends. */
export function uninterruptible<A>(io: IO<A>): IO<A> {
  expectIO("lib.uninterruptible", io, "(uninterruptible io)");
  return new Node(Tag.Mask, io, 1) as unknown as IO<A>;
}

/**
 * A primitive: `run` receives the runtime context when the IO runs and returns
 * the IO to continue with. `--verbose` prints `label` as the step starts.
 */
export function primitive<A>(label: string, run: (ctx: PrimitiveContext) => IO<A>): IO<A> {
  return traced(new Node(Tag.Primitive, run, label), "running", label) as unknown as IO<A>;
}

/** Either, shaped as fp-ts's so `fp-ts/Either` functions work on it. */
export type Either<E, A> = { readonly _tag: "Left"; readonly left: E } | { readonly _tag: "Right"; readonly right: A };

/** Run `io`; yield `Right(value)`, or `Left(error)` if it (or anything it runs) throws. */
export function attempt<A>(io: IO<A>): IO<Either<Error, A>> {
  expectIO("lib.attempt", io, "(attempt io)");
  return traced(new Node(Tag.Attempt, io, undefined), "attempting", io) as unknown as IO<Either<Error, A>>;
}

/** `mapM f list`: run `f` on each element in order and collect the results. */
export function mapM<A, B>(f: (a: A) => IO<B>, list: readonly A[]): IO<B[]> {
  expectFunction("lib.mapM", f, "as its first argument (mapM f list)");
  if (!Array.isArray(list)) throw new TypeError(`lib.mapM expects an array as its second argument, got ${describeValue(list)}`);
  const step = (i: number, acc: B[]): IO<B[]> => {
    if (i === list.length) return unit(acc);
    const next = f(list[i] as A);
    if (!isIO(next)) throw notIOFromMapM(f, i, next);
    return bind(next, (b) => (acc.push(b), step(i + 1, acc)));
  };
  // A fresh accumulator per run: IO values are re-runnable, so it cannot be shared.
  return defer(() => step(0, []));
}

function notIOFromMapM(f: unknown, i: number, value: unknown): TypeError {
  const hint = isThenable(value)
    ? " (a Promise is not an IO: wrap it in lib.task(() => promise))"
    : value === undefined
      ? " (did the function forget to return?)"
      : "";
  return new TypeError(`the function given to lib.mapM (${describeFunction(f)}) returned ${describeValue(value)} for element ${i}, not an IO value${hint}`);
}

/** `defer(() => io)`: build the IO only when it runs (for recursion and laziness). */
export function defer<A>(f: () => IO<A>): IO<A> {
  return bind(unit(undefined), f);
}

/** `lib.unit(promise)`: a Promise is not a value to yield but work to await. */
function promiseGivenToUnit(): TypeError {
  return new TypeError("lib.unit was given a Promise: an IO cannot yield a Promise; to await it, use lib.task(() => promise)");
}

/** A thenable: what lib.io's or lib.map's function must not return (`lib.task` awaits, they do not). */
export function isThenable(value: unknown): boolean {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** The continuation of `join`: the interpreter recognises it to word its errors. */
export function joinIdentity<A>(a: A): A {
  return a;
}
