/**
 * The interpreter: one loop over the IO tree with a heap stack of
 * continuations, in the manner of nix-exec's runner and Effect's fiber.
 *
 * - Stack safe: nesting lives in `stack` (a JS array on the heap), never in
 *   JS call frames, so 10^7 nested binds or maps run with Node's default stack.
 * - Continuation frames are the Map/Chain/Attempt nodes themselves: a step
 *   allocates nothing but what user functions allocate.
 * - Synchronous steps run back to back; only `Async` nodes wait for a promise.
 *   A suspended fiber resumes through one reusable pair of callbacks, so a long
 *   asynchronous loop holds no chain of pending promises.
 */
import { Node, Tag, isIO, isThenable, joinIdentity, taskSite, type IO, type PrimitiveContext } from "../monad/io.js";
import { describeFunction, describeValue } from "../monad/describe.js";
import { formatTrace, isTracing, nodeTrace } from "../monad/trace.js";
import { TsexecError } from "./errors.js";

/** The trace lines of the frames an error unwound through (under --show-trace). */
const traceKey = Symbol.for("tsexec.trace");

export function errorTrace(error: unknown): readonly string[] {
  return (typeof error === "object" && error !== null && (error as any)[traceKey]) || [];
}

/** Where the lib.task that failed was built (`file:line:col`), recorded even without --show-trace. */
const taskSiteKey = Symbol.for("tsexec.taskSite");

export function failedTaskSite(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? (error as any)[taskSiteKey] : undefined;
}

class Fiber {
  readonly stack: Node[] = [];
  /** The asynchronous step the fiber last suspended on: a rejection is that step's failure. */
  waitingOn: Node | undefined = undefined;
  resolve: (value: unknown) => void = noop;
  reject: (error: unknown) => void = noop;
  constructor(
    readonly ctx: PrimitiveContext,
    /** Told which step the fiber waits on each time it suspends (the CLI names it if it never settles). */
    readonly onSuspend?: (step: string) => void,
  ) {}

  readonly onValue = (value: unknown): void => this.resume(value, false, undefined);
  readonly onError = (error: unknown): void => this.resume(undefined, true, error);

  private resume(value: unknown, failing: boolean, failure: unknown): void {
    let outcome: unknown;
    try {
      outcome = loop(this, undefined, value, failing, failure);
    } catch (error) {
      this.reject(error);
      return;
    }
    if (outcome !== suspended) this.resolve(outcome);
  }
}

/** Marks a fiber that stopped at an asynchronous step; the loop resumes it later. */
const suspended: unique symbol = Symbol("suspended");

/**
 * Runs `io` to completion. Synchronous programs finish before `run` returns
 * (the promise is already settled); asynchronous steps suspend the loop.
 */
export function run<A>(io: IO<A>, ctx: PrimitiveContext, onSuspend?: (step: string) => void): Promise<A> {
  const fiber = new Fiber(ctx, onSuspend);
  let outcome: unknown;
  try {
    outcome = loop(fiber, io as unknown as Node, undefined, false, undefined);
  } catch (error) {
    return Promise.reject(error);
  }
  if (outcome !== suspended) return Promise.resolve(outcome as A);
  return new Promise<A>((resolve, reject) => {
    fiber.resolve = resolve as (value: unknown) => void;
    fiber.reject = reject;
  });
}

/**
 * Runs `io` synchronously (unsafePerformIO). Reaching an asynchronous step is
 * an error that names the step, raised before that step starts.
 */
export function runSync<A>(io: IO<A>, ctx: PrimitiveContext): A {
  const fiber = new Fiber(ctx.synchronous ? ctx : { ...ctx, synchronous: true });
  return loop(fiber, io as unknown as Node, undefined, false, undefined) as A;
}

function loop(fiber: Fiber, start: Node | undefined, startValue: unknown, failing: boolean, failure: unknown): unknown {
  const stack = fiber.stack;
  let cur: Node | undefined = start;
  let value: unknown = startValue;
  // The frame or node whose code is running, for the trace of an error it throws.
  let running: Node | undefined;
  for (;;) {
    try {
      if (failing) {
        failing = false;
        running = fiber.waitingOn;
        throw failure;
      }
      for (;;) {
        if (cur !== undefined) {
          switch (cur._tag) {
            case Tag.Pure:
              value = cur._a;
              break;
            case Tag.Chain: {
              // bind(unit(a), f), the step of every recursive loop, needs no frame:
              // call f at once (as popping the frame would). Halves the bind loop's time.
              const inner: Node = cur._a;
              if (inner._tag === Tag.Pure) {
                running = cur;
                const f = cur._b; // called without a receiver: stack traces name the user's function
                const next: unknown = f(inner._a);
                if (!isIO(next)) throw notIO(cur, next);
                cur = next as Node;
                continue;
              }
              stack.push(cur);
              cur = inner;
              continue;
            }
            case Tag.Map:
            case Tag.Attempt:
              stack.push(cur);
              cur = cur._a;
              continue;
            case Tag.Sync: {
              running = cur;
              const effect = cur._a;
              value = effect();
              if (isThenable(value)) throw promiseFrom("lib.io", effect, value);
              break;
            }
            case Tag.Primitive: {
              running = cur;
              const ctx = fiber.ctx;
              if (ctx.verbose) ctx.log(cur._b);
              const start = cur._a;
              const next: unknown = start(ctx);
              if (!isIO(next)) throw new TypeError(`primitive ${cur._b} produced ${describeValue(next)}, not an IO value`);
              cur = next as unknown as Node;
              continue;
            }
            case Tag.Async: {
              running = cur;
              if (fiber.ctx.synchronous) throw asyncInSync(cur);
              const begin = cur._a;
              fiber.waitingOn = cur;
              suspend(fiber, begin());
              if (fiber.onSuspend) fiber.onSuspend(describeStep(cur));
              return suspended;
            }
          }
        }
        const k = stack.pop();
        if (k === undefined) {
          cur = undefined;
          return value;
        }
        running = k;
        // Called without a receiver, so stack traces name the user's function, not `Node.f`.
        const f = k._b;
        if (k._tag === Tag.Map) {
          value = f(value);
          if (isThenable(value)) throw promiseFrom("lib.map", f, value);
          cur = undefined;
        } else if (k._tag === Tag.Chain) {
          cur = f(value);
          if (!isIO(cur)) throw notIO(k, cur);
        } else {
          value = { _tag: "Right", right: value };
          cur = undefined;
        }
      }
    } catch (error) {
      // Unwind to the nearest attempt; collect the trace of what we leave.
      const trace = isTracing() ? traceOf(error) : undefined;
      if (running !== undefined && running._tag === Tag.Async) noteTaskSite(error, running);
      const failed = trace && running && nodeTrace(running);
      if (failed) trace.push(formatTrace(failed));
      running = undefined;
      let k: Node | undefined;
      while ((k = stack.pop()) !== undefined && k._tag !== Tag.Attempt) {
        const unwound = trace && nodeTrace(k);
        if (unwound) trace.push(formatTrace(unwound));
      }
      if (k === undefined) throw error;
      value = { _tag: "Left", left: toError(error) };
      cur = undefined;
    }
  }
}

function suspend(fiber: Fiber, promise: PromiseLike<unknown>): void {
  if (promise === null || typeof promise !== "object" || typeof promise.then !== "function") {
    // A non-promise result from lib.task is treated as already resolved.
    queueMicrotask(() => fiber.onValue(promise));
    return;
  }
  promise.then(fiber.onValue, fiber.onError);
}

function traceOf(error: unknown): string[] {
  if (typeof error !== "object" || error === null) return [];
  let trace = (error as any)[traceKey] as string[] | undefined;
  if (!trace) {
    trace = [];
    try {
      Object.defineProperty(error, traceKey, { value: trace, enumerable: false, configurable: true });
    } catch {
      // A frozen error carries no trace.
    }
  }
  return trace;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error), { cause: error });
}

function notIO(k: Node, value: unknown): TypeError {
  const isJoin = k._b === joinIdentity;
  const what = isJoin ? "lib.join: the IO yielded" : `the function given to lib.bind (${describeFunction(k._b)}) returned`;
  const hint = isThenable(value)
    ? " (a Promise is not an IO: wrap it in lib.task(() => promise))"
    : value === undefined && !isJoin
      ? " (did the function forget to return?)"
      : "";
  return new TypeError(`${what} ${describeValue(value)}, not an IO value${hint}`);
}

/** lib.io's or lib.map's function returned a Promise: only lib.task awaits. */
function promiseFrom(where: string, f: unknown, promise: unknown): TsexecError {
  // Its rejection, if it comes, is this error's news, not a crash as an unhandled rejection.
  try {
    (promise as PromiseLike<unknown>).then(undefined, noop);
  } catch {
    // A thenable whose then throws: nothing to silence.
  }
  return new TsexecError(
    `the function given to ${where} (${describeFunction(f)}) returned a Promise: ${where} does not await it; ` +
      `for asynchronous work use lib.task(() => promise)`,
  );
}

/** The innermost failed task's site, once: outer frames must not overwrite it. */
function noteTaskSite(error: unknown, node: Node): void {
  if (typeof error !== "object" || error === null || taskSiteKey in error) return;
  const site = taskSite(node);
  if (site === undefined) return;
  try {
    Object.defineProperty(error, taskSiteKey, { value: site, enumerable: false, configurable: true });
  } catch {
    // A frozen error carries no site.
  }
}

/** `lib.task(fetchIt)`, with where it was built under --show-trace. */
function describeStep(node: Node): string {
  const site = nodeTrace(node)?.site;
  return `${node._b}${site ? ` (built at ${site})` : ""}`;
}

function asyncInSync(node: Node): TsexecError {
  return new TsexecError(
    `unsafePerformIO cannot run asynchronous work: it reached ${describeStep(node)}. ` +
      `Sequence asynchronous steps with lib.bind/lib.map in the program tsexec runs instead.`,
  );
}

function noop(): void {}
