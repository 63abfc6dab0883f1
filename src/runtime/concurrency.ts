/**
 * Parallelism on top of the interpreter's fibers: all, allSettled, mapPar,
 * race, timeout, sleep, exit, and an fp-ts `ApplicativePar`.
 *
 * Each combinator is one callback step (`concurrentStep`) that forks a fiber
 * per IO value and gathers them. The rules every one of them keeps:
 * - A combinator finishes only when every fiber it started has ended: when one
 *   fails (or the race is won, or the time is up), the others are interrupted
 *   and waited for, so their children are killed and their finalizers have run
 *   before the next step starts.
 * - Interrupting the combinator interrupts its fibers (the same wait).
 * - Under `unsafePerformIO` the fibers run synchronously; a fiber that reaches
 *   asynchronous work fails with the error it always did.
 */
import type { Applicative1 } from "fp-ts/Applicative";
import type { Apply1 } from "fp-ts/Apply";
import { Node, Tag, concurrentStep, io, isIO, isThenable, map, suspendStep, unit, type Done, type Either, type IO, type PrimitiveContext } from "../monad/io.js";
import { isTracing, traced } from "../monad/trace.js";
import { describeValue } from "../monad/describe.js";
import { URI } from "../monad/instances.js";
import { Interruption, fork, noteFailedTask, promiseFrom, type Fiber } from "./interpreter.js";
import { TsexecError } from "../base/errors.js";

export interface ParallelOptions {
  /** How many run at once (a positive integer; default: all of them). */
  readonly concurrency?: number;
}

/** `all(ios)`: run every IO at once (or `concurrency` at a time); yield their values in order. */
export function all<A>(ios: readonly IO<A>[], options?: ParallelOptions): IO<A[]> {
  return gather("lib.all", ios, options);
}

/** `all` under the name of the combinator the user called (a trace says lib.mapPar for a mapPar). */
function gather<A>(name: string, ios: readonly IO<A>[], options?: ParallelOptions): IO<A[]> {
  const list = expectIOList(name, ios);
  const limit = concurrencyOf(name, options);
  return concurrentStep(`${name} of ${list.length} steps`, (ctx, done) => new Gather(list, limit, false, ctx, done).start());
}

/** `allSettled(ios)`: like `all`, but a failure does not stop the others: yields every outcome as an Either. */
export function allSettled<A>(ios: readonly IO<A>[], options?: ParallelOptions): IO<Either<Error, A>[]> {
  const list = expectIOList("lib.allSettled", ios);
  const limit = concurrencyOf("lib.allSettled", options);
  return concurrentStep(`lib.allSettled of ${list.length} steps`, (ctx, done) => new Gather(list, limit, true, ctx, done).start());
}

/** `mapPar(f, list)`: `f` on every element, run in parallel (see `all`); results in order. */
export function mapPar<A, B>(f: (a: A) => IO<B>, list: readonly A[], options?: ParallelOptions): IO<B[]> {
  if (typeof f !== "function") throw new TypeError(`lib.mapPar expects a function as its first argument (mapPar f list), got ${describeValue(f)}`);
  if (!Array.isArray(list)) throw new TypeError(`lib.mapPar expects an array as its second argument (mapPar f list), got ${describeValue(list)}`);
  concurrencyOf("lib.mapPar", options);
  // One step named for what the user wrote: f runs when it runs, and a trace shows lib.mapPar, not tsexec's inner function.
  return traced(new Node(Tag.Chain, unit(undefined), () => gather("lib.mapPar", list.map((a) => f(a)), options)), "running", `lib.mapPar over ${list.length} elements`) as unknown as IO<B[]>;
}

/**
 * `race(ios)`: run them all at once; the first to finish (succeed or fail) decides
 * the outcome, the others are interrupted (and waited for).
 */
export function race<A>(ios: readonly IO<A>[]): IO<A> {
  const list = expectIOList("lib.race", ios);
  if (list.length === 0) throw new TypeError("lib.race expects at least one IO value (a race of none never ends)");
  return concurrentStep(`lib.race of ${list.length} steps`, (ctx, done) => new Race(list, ctx, done).start());
}

/**
 * `timeout(ms, io)`: run `io`; if it has not finished after `ms` milliseconds,
 * interrupt it and, once it has stopped, fail with an error naming the step it
 * was waiting on and the limit.
 */
export function timeout<A>(ms: number, io: IO<A>): IO<A> {
  expectMs("lib.timeout", ms, "as its first argument (timeout ms io)");
  if (!isIO(io)) throw new TypeError(`lib.timeout expects an IO value as its second argument (timeout ms io), got ${describeValue(io)}`);
  return concurrentStep(`lib.timeout(${ms} ms)`, (ctx, done) => {
    let timer: NodeJS.Timeout | undefined;
    let expired: string | undefined;
    const fiber = fork(io, ctx, (f) => {
      if (timer !== undefined) clearTimeout(timer);
      if (expired !== undefined && (!f.failed || f.value instanceof Interruption)) {
        done(true, new TsexecError(`lib.timeout: ${expired} did not finish within ${ms} ms; it was interrupted`));
      } else done(f.failed, f.value);
    }, 0);
    if (fiber.done) return undefined;
    timer = setTimeout(() => {
      expired = fiber.describeWaiting() ?? "the step";
      fiber.interrupt(new Interruption(`timed out after ${ms} ms`, 1));
    }, ms);
    return () => {
      clearTimeout(timer);
      fiber.interrupt(stopped());
    };
  });
}

/** `sleep(ms)`: wait `ms` milliseconds (an interruption ends the wait at once). */
export function sleep(ms: number): IO<void> {
  expectMs("lib.sleep", ms, "(sleep ms)");
  return suspendStep(`lib.sleep(${ms} ms)`, (_ctx, done) => {
    const timer = setTimeout(done, ms, false, undefined);
    return () => {
      clearTimeout(timer);
      done(false, undefined);
    };
  });
}

/**
 * `exit(code)`: end the program with `code` once the finalizers of every running
 * step have run. Not caught by `lib.attempt`; inside `all`/`race`, the others are interrupted first.
 */
export function exit(code: number): IO<never> {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new TypeError(`lib.exit expects an exit code, an integer from 0 to 255, got ${describeValue(code)}`);
  }
  return io(() => {
    throw new Interruption(`lib.exit(${code})`, code);
  });
}

/** What interrupts the fibers of a combinator that was itself interrupted, or has its outcome. */
function stopped(): Interruption {
  return new Interruption("interrupted: the step that started it has ended", 1);
}

/** Gathers the fibers of `all`/`allSettled`, starting at most `limit` at once. */
class Gather {
  /** Made on first use: an `all` of tasks only gathers its values with Promise.all and needs neither. */
  private resultList: unknown[] | undefined = undefined;
  private fiberList: (Fiber | undefined)[] | undefined = undefined;
  private next = 0;
  private running = 0;
  private failure: unknown = undefined;
  private failed = false;
  private launching = false;
  private finished = false;
  /** Tasks awaited without a fiber (see awaitTask), and the count that tells their callbacks they were forgotten. */
  private pendingTasks = 0;
  private epoch = 0;
  /** The values of an `all` made of tasks only, in order (see launchBatch). */
  private taskValues: unknown[] | undefined = undefined;

  constructor(
    private readonly ios: readonly IO<unknown>[],
    private readonly limit: number,
    private readonly settled: boolean,
    private readonly ctx: PrimitiveContext,
    private readonly done: Done<unknown[]>,
  ) {
  }

  private get results(): unknown[] {
    return (this.resultList ??= new Array(this.ios.length));
  }

  private get fibers(): (Fiber | undefined)[] {
    return (this.fiberList ??= new Array(this.ios.length));
  }

  start(): (() => void) | undefined {
    if (this.limit === Infinity && !this.settled && !this.ctx.synchronous && !isTracing()) this.launchBatch();
    else this.launch();
    return this.finished ? undefined : this.cancel;
  }

  /**
   * `all` without a limit: the tasks among the IO values, bare (`lib.task(g)`) or mapped
   * (`lib.map(f, lib.task(g))`, the common shape: a task whose result is used), need no
   * fiber: their promises (`g()`, then `.then(f)`) are gathered by one Promise.all (the
   * engine's own loop, faster than any made in JS), which fails as `all` does, on the first
   * rejection. A failure elsewhere forgets them, as an interrupted fiber forgets its promise.
   */
  private launchBatch(): void {
    this.launching = true;
    const ios = this.ios;
    const promises: unknown[] = [];
    let slots: number[] | undefined; // where each promise's value goes, unless every IO is a task
    for (let i = 0; i < ios.length && !this.failed; i++) {
      const io = ios[i] as unknown as Node;
      this.next = i + 1;
      if (io._tag === Tag.Async || (io._tag === Tag.Map && isMappedTask(io))) {
        let promise: unknown;
        try {
          promise = this.startTask(io);
        } catch (error) {
          this.running++;
          this.ended(i, true, error);
          break;
        }
        promises.push(promise);
        if (slots !== undefined) slots.push(i);
        continue;
      }
      if (slots === undefined) slots = Array.from({ length: promises.length }, (_, k) => k);
      this.running++;
      const fiber = fork(io as unknown as IO<unknown>, this.ctx, this.onExit, i);
      if (!fiber.done) this.fibers[i] = fiber;
    }
    if (promises.length > 0 && !this.failed) {
      this.running++;
      this.pendingTasks = 1;
      const epoch = this.epoch;
      Promise.all(promises).then(
        (values) => {
          if (epoch !== this.epoch) return;
          if (slots === undefined) this.taskValues = values;
          else for (let k = 0; k < values.length; k++) this.results[slots[k]!] = values[k];
          this.taskEnded(-1, false, undefined);
        },
        (error) => {
          if (epoch !== this.epoch) return;
          // Which task failed is asked only now, so a task costs no rejection callback of its own.
          this.noteRejectedTask(promises, slots, error).then(() => {
            if (epoch === this.epoch) this.taskEnded(-1, true, error);
          });
        },
      );
    }
    this.launching = false;
    this.check();
  }

  /**
   * Names the task whose rejection failed the batch, as a fiber does (the CLI prints the line
   * that built it). Its promise is rejected already, so the callbacks on the rejected promises
   * run before the promise this returns settles.
   */
  private noteRejectedTask(promises: readonly unknown[], slots: readonly number[] | undefined, error: unknown): Promise<void> {
    if (typeof error !== "object" || error === null) return Promise.resolve();
    for (let k = 0; k < promises.length; k++) {
      const promise = promises[k];
      if (!(promise instanceof Promise)) continue;
      let node = this.ios[slots === undefined ? k : slots[k]!] as unknown as Node;
      while (node._tag === Tag.Map) node = node._a;
      promise.then(undefined, (rejection: unknown) => {
        if (rejection === error) noteFailedTask(error, node);
      });
    }
    return Promise.resolve();
  }

  /**
   * Starts a task (`isMappedTask` or bare): the task's promise, then each map's function in
   * turn, as a fiber would run them. A bare task's promise is given to Promise.all as it is.
   */
  private startTask(io: Node): unknown {
    if (io._tag === Tag.Async) {
      const begin = io._a as () => unknown;
      return begin();
    }
    const inner: Node = io._a;
    let promise: PromiseLike<unknown>;
    if (inner._tag === Tag.Async) {
      const begin = inner._a as () => unknown;
      const started = begin();
      promise = started instanceof Promise ? started : Promise.resolve(started);
      return promise.then(this.mapper(io._b));
    }
    promise = this.startTask(inner) as PromiseLike<unknown>;
    return promise.then(this.mapper(io._b));
  }

  private lastFunction: unknown = undefined;
  private lastMapper: ((value: unknown) => unknown) | undefined = undefined;

  /**
   * `f` as a promise's callback: it does not run once `all` has failed or was interrupted
   * (an interrupted fiber never runs its maps), and a Promise from it is the error lib.map
   * gives. One per function, not per task: the tasks of a `lib.all` share their map's function.
   */
  private mapper(f: (a: unknown) => unknown): (value: unknown) => unknown {
    if (f === this.lastFunction) return this.lastMapper!;
    const epoch = this.epoch;
    const mapper = (value: unknown): unknown => {
      if (epoch !== this.epoch) return undefined;
      const mapped = f(value);
      if (typeof mapped === "object" && isThenable(mapped)) throw promiseFrom("lib.map", f, mapped);
      return mapped;
    };
    this.lastFunction = f;
    this.lastMapper = mapper;
    return mapper;
  }

  /** Starts fibers while there is room; a loop, not a recursion, when they end at once. */
  private launch(): void {
    this.launching = true;
    const ios = this.ios;
    const direct = !this.ctx.synchronous && !isTracing();
    while (!this.failed && this.next < ios.length && this.running < this.limit) {
      const i = this.next++;
      this.running++;
      const io = ios[i] as unknown as Node;
      if (direct && io._tag === Tag.Async) this.awaitTask(io, i);
      else {
        const fiber = fork(io as unknown as IO<unknown>, this.ctx, this.onExit, i);
        if (!fiber.done) this.fibers[i] = fiber;
      }
    }
    this.launching = false;
    this.check();
  }

  /**
   * A bare `lib.task` needs no fiber: its promise is awaited directly (what a fiber
   * would do, minus the fiber), which keeps `all` of 10^5 tasks near Promise.all.
   * Interrupted, it is forgotten, as a fiber forgets it.
   */
  private awaitTask(task: Node, i: number): void {
    this.pendingTasks++;
    let promise: PromiseLike<unknown>;
    try {
      const begin = task._a as () => PromiseLike<unknown>;
      promise = begin();
    } catch (error) {
      this.taskEnded(i, true, error);
      return;
    }
    // One closure per task (as Promise.all makes); `all` shares its failure callback, as Promise.all
    // shares its reject: which task failed does not matter there.
    const epoch = this.epoch;
    const onValue = (value: unknown): void => {
      if (epoch === this.epoch) this.taskEnded(i, false, value);
    };
    const onError = this.settled ? (error: unknown): void => {
      if (epoch === this.epoch) this.taskEnded(i, true, error);
    } : this.onTaskError;
    if (promise !== null && typeof promise === "object" && typeof promise.then === "function") promise.then(onValue, onError);
    else queueMicrotask(() => onValue(promise));
  }

  private readonly onTaskError = (error: unknown): void => {
    if (!this.failed) this.taskEnded(-1, true, error);
  };

  private taskEnded(i: number, failed: boolean, value: unknown): void {
    this.pendingTasks--;
    this.ended(i, failed, value);
  }

  private readonly onExit = (fiber: Fiber): void => {
    this.fibers[fiber.slot] = undefined;
    this.ended(fiber.slot, fiber.failed, fiber.value);
  };

  private ended(i: number, failed: boolean, value: unknown): void {
    this.running--;
    if (i < 0) {
      if (failed && !this.failed) this.fail(value);
    } else if (!failed) this.results[i] = this.settled ? { _tag: "Right", right: value } : value;
    else if (this.settled && !(value instanceof Interruption)) this.results[i] = { _tag: "Left", left: toError(value) };
    else if (!this.failed) this.fail(value);
    if (this.launching) return;
    if (!this.failed && this.next < this.ios.length) this.launch();
    else this.check();
  }

  /** The first failure: the others are interrupted; the failure is raised once they have stopped. */
  private fail(failure: unknown): void {
    this.failed = true;
    this.failure = failure;
    // Tasks awaited directly are forgotten at once.
    this.epoch++;
    this.running -= this.pendingTasks;
    this.pendingTasks = 0;
    const cause = stopped();
    if (this.fiberList !== undefined) for (const fiber of this.fiberList) if (fiber !== undefined) fiber.interrupt(cause);
  }

  private readonly cancel = (): void => {
    if (!this.failed) this.fail(stopped());
    this.check();
  };

  private check(): void {
    if (this.finished || this.running > 0 || (!this.failed && this.next < this.ios.length)) return;
    this.finished = true;
    if (this.failed) this.done(true, this.failure);
    else this.done(false, this.taskValues ?? this.results);
  }
}

/** The fibers of a race: the first to end wins; the others are interrupted and waited for. */
class Race {
  private readonly fibers: Fiber[] = [];
  private winner: Fiber | undefined = undefined;
  private running = 0;
  private finished = false;

  constructor(
    private readonly ios: readonly IO<unknown>[],
    private readonly ctx: PrimitiveContext,
    private readonly done: Done<unknown>,
  ) {}

  start(): (() => void) | undefined {
    for (let i = 0; i < this.ios.length && this.winner === undefined; i++) {
      this.running++;
      this.fibers.push(fork(this.ios[i]!, this.ctx, this.onExit, i));
    }
    this.check();
    return this.finished ? undefined : this.cancel;
  }

  private readonly onExit = (fiber: Fiber): void => {
    this.running--;
    if (this.winner === undefined) {
      this.winner = fiber;
      const cause = stopped();
      for (const other of this.fibers) if (other !== fiber) other.interrupt(cause);
    }
    this.check();
  };

  private readonly cancel = (): void => {
    const cause = stopped();
    for (const fiber of this.fibers) fiber.interrupt(cause);
  };

  private check(): void {
    if (this.finished || this.running > 0 || this.winner === undefined) return;
    this.finished = true;
    this.done(this.winner.failed, this.winner.value);
  }
}

const _map: Apply1<URI>["map"] = (fa, f) => map(f, fa);
/** Both sides run at once: `traverse(ApplicativePar)` runs every element in parallel. */
const _apPar: Apply1<URI>["ap"] = (fab, fa) =>
  map(([f, a]) => (f as (a: unknown) => unknown)(a), all<unknown>([fab, fa])) as IO<any>;

/** The fp-ts Applicative whose `ap` runs both sides in parallel (see `all`). */
export const ApplicativePar: Applicative1<URI> = { URI, map: _map, ap: _apPar, of: unit };

/** How many maps deep a mapped task may be for `all` to run it without a fiber. */
const maxMapsOverTask = 8;

/** `lib.map(f, lib.task(g))`, or a few maps over a task: a promise and its `.then`s, needing no fiber. */
function isMappedTask(io: Node): boolean {
  let node = io;
  for (let depth = 0; depth < maxMapsOverTask && node._tag === Tag.Map; depth++) node = node._a;
  return node._tag === Tag.Async;
}

function expectIOList(where: string, ios: unknown): readonly IO<unknown>[] {
  if (!Array.isArray(ios)) throw new TypeError(`${where} expects an array of IO values, got ${describeValue(ios)}`);
  for (let i = 0; i < ios.length; i++) {
    if (!isIO(ios[i])) throw new TypeError(`${where} expects an array of IO values, but element ${i} is ${describeValue(ios[i])}`);
  }
  return ios;
}

function concurrencyOf(where: string, options: ParallelOptions | undefined): number {
  const limit = options?.concurrency;
  if (limit === undefined || limit === Infinity) return Infinity;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new TypeError(`${where}: concurrency must be a positive integer, got ${describeValue(limit)}`);
  }
  return limit;
}

function expectMs(where: string, ms: unknown, hint: string): void {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new TypeError(`${where} expects a number of milliseconds ${hint}, got ${describeValue(ms)}`);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error), { cause: error });
}
