/**
 * The interpreter: one loop over the IO tree with a heap stack of
 * continuations, in the manner of nix-exec's runner, Effect's fiber runtime
 * and cats-effect's IOFiber.
 *
 * - Stack safe: nesting lives in `stack` (a JS array on the heap), never in
 *   JS call frames, so 10^7 nested binds or maps run with Node's default stack.
 * - Continuation frames are the Map/Chain/Attempt/Ensuring/Mask nodes
 *   themselves: a step allocates nothing but what user functions allocate.
 * - Synchronous steps run back to back; `bind(unit(a), f)` and `bind(io(g), f)`
 *   need no frame at all. Only `Async` (a promise) and callback steps
 *   (`Suspend`, `Concurrent`) wait. A suspended fiber resumes through one
 *   reusable pair of callbacks, so a long asynchronous loop holds no chain of
 *   pending promises. Every 65,536 steps a fiber pauses for the event loop
 *   (not under unsafePerformIO), so a signal reaches even a busy program.
 *
 * Fibers and interruption: every run is a `Fiber` (its stack, its state);
 * `fork` starts another one beside it (src/runtime/concurrency.ts builds
 * all/race/timeout on that). `fiber.interrupt(cause)` is asynchronous: it is
 * delivered at a step boundary, or to the step the fiber waits on (a
 * `lib.task` promise is forgotten; a callback step is asked to stop and
 * waited for, so a killed child is reaped first). Delivered, it unwinds the
 * stack as a failure that `lib.attempt` does not catch, running the
 * finalizers of the `Ensuring` frames it passes (each with interruption held
 * off by the `masked` count), in reverse order of acquisition.
 */
import { Node, Tag, isIO, isThenable, joinIdentity, type IO, type PrimitiveContext } from "../monad/io.js";
import { describeFunction, describeValue } from "../monad/describe.js";
import { formatTrace, isTracing, nodeTrace } from "../monad/trace.js";
import { TsexecError } from "../base/errors.js";

/** The trace lines of the frames an error unwound through (under --show-trace). */
const traceKey = Symbol.for("tsexec.trace");

export function errorTrace(error: unknown): readonly string[] {
  return (typeof error === "object" && error !== null && (error as any)[traceKey]) || [];
}

/** The function of the innermost lib.task that failed: the CLI names where it was written, even without --show-trace. */
const failedTaskKey = Symbol.for("tsexec.failedTask");

export function failedTaskFunction(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as any)[failedTaskKey] : undefined;
}

/**
 * How a fiber is stopped from outside (a signal, a failed sibling, a timeout)
 * or ends the whole program (`lib.exit`): a failure `lib.attempt` never catches.
 * `exitCode` is what tsexec exits with when it reaches the top.
 */
export class Interruption extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "Interruption";
  }
}

export function isInterruption(error: unknown): error is Interruption {
  return error instanceof Interruption;
}

const enum State {
  /** On the JS stack, running steps. */
  Running,
  /** Inside a callback step's `start`: a `done` now completes the step without suspending. */
  Starting,
  /** Waiting on `waitingOn`. */
  Suspended,
  Done,
}

/** Steps a fiber runs before it pauses for the event loop (so signals and timers are heard). */
const stepsBetweenPauses = 1 << 16;
/** How deep fibers may start or resume inside one another's loops before a new one is started on a later tick. */
const maxNesting = 64;
let nesting = 0;

/** What a paused fiber (or one not started yet) waits on. */
const pauseStep = new Node(Tag.Async, undefined, "a pause for other work");

export class Fiber {
  readonly stack: Node[] = [];
  state = State.Running;
  /** Interruption is held off while this is above 0 (finalizers, bracket's acquire). */
  masked = 0;
  /** An interruption asked for; delivered at the next step boundary where `masked` is 0. */
  interruption: Interruption | undefined = undefined;
  /** The step the fiber waits on while suspended. */
  waitingOn: Node | undefined = undefined;
  /** Once done: the failure (`failed`) or the value. */
  failed = false;
  value: unknown = undefined;
  /** Told once, when the fiber is done. */
  observer: ((fiber: Fiber) => void) | undefined = undefined;
  /** The observer's number for this fiber (an index into a list of results). */
  slot = 0;
  /** Asks the callback step the fiber waits on to stop. */
  private cancel: (() => void) | undefined = undefined;
  /** Numbers callback steps, so a `done` is heard once and only by its own step. */
  private ticket = 0;
  /** A callback step's outcome when `done` came before its `start` returned: 1 value, 2 failure. */
  early = 0;
  earlyValue: unknown = undefined;
  /** The promise callbacks; replaced (or cleared) to forget a promise the fiber no longer waits on. */
  private onValue: ((value: unknown) => void) | undefined = undefined;
  private onError: ((error: unknown) => void) | undefined = undefined;

  constructor(
    readonly ctx: PrimitiveContext,
    /** Told which step the fiber waits on each time it suspends (the CLI names it if it never settles). */
    readonly onSuspend?: (step: string) => void,
  ) {}

  /** Asks the fiber to stop (see the file's comment); a no-op once it is done. */
  interrupt(cause: Interruption): void {
    if (this.state === State.Done) return;
    if (this.interruption === undefined) this.interruption = cause;
    if (this.state === State.Suspended && this.masked === 0) this.deliver();
  }

  /** `lib.task(fetchIt)` or `git fetch ...`: what the fiber waits on, for messages. */
  describeWaiting(): string | undefined {
    const step = this.waitingOn;
    return step === undefined || step === pauseStep ? undefined : describeStep(step);
  }

  /** Runs the loop from `start` (or returns `value` to the top frame) until the fiber suspends or ends. */
  run(start: Node | undefined, value: unknown, failing: boolean, failure: unknown, running: Node | undefined): void {
    let outcome: unknown;
    let threw = false;
    // Counted until the observers told of the end have returned: they may resume other fibers.
    nesting++;
    try {
      outcome = loop(this, start, value, failing, failure, running);
    } catch (error) {
      threw = true;
      outcome = error;
    }
    try {
      if (threw) this.end(true, outcome);
      else if (outcome !== suspended) this.end(false, outcome);
      else if (this.interruption !== undefined && this.masked === 0) this.deliver();
    } finally {
      nesting--;
    }
  }

  /** Waits for `promise` (a `lib.task`). */
  await(step: Node, promise: PromiseLike<unknown>): void {
    this.state = State.Suspended;
    this.waitingOn = step;
    if (this.onValue === undefined) this.arm();
    if (promise === null || typeof promise !== "object" || typeof promise.then !== "function") {
      // A non-promise result from lib.task is treated as already resolved.
      const onValue = this.onValue!;
      queueMicrotask(() => onValue(promise));
      return;
    }
    promise.then(this.onValue, this.onError);
  }

  /** Stops on `step`, a callback step whose `start` returned without calling `done`. */
  wait(step: Node, cancel: (() => void) | undefined): void {
    this.state = State.Suspended;
    this.waitingOn = step;
    this.cancel = cancel;
  }

  /** The `done` of the callback step about to start. */
  doneForNextStep(): (failed: boolean, value: unknown) => void {
    const ticket = ++this.ticket;
    return (failed, value) => {
      if (ticket !== this.ticket) return;
      this.ticket++; // heard once
      if (this.state === State.Starting) {
        this.early = failed ? 2 : 1;
        this.earlyValue = value;
      } else if (this.state === State.Suspended) {
        // Deep inside other fibers' loops (a child ending resumes its parent, which may end and
        // resume its own ...): carry on from a fresh stack instead.
        if (nesting >= maxNesting) queueMicrotask(() => this.resume(failed ? undefined : value, failed, value));
        else this.resume(failed ? undefined : value, failed, value);
      }
    };
  }

  /** Lets the event loop run, then carries on from `next` (or returns `value` to the top frame). */
  pause(next: Node | undefined, value: unknown, later: (callback: () => void) => void): void {
    this.state = State.Suspended;
    this.waitingOn = pauseStep;
    this.arm();
    const onValue = this.onValue;
    later(() => {
      if (this.onValue !== onValue) return; // interrupted meanwhile: resumed already
      this.state = State.Running;
      this.waitingOn = undefined;
      this.run(next, value, false, undefined, undefined);
    });
  }

  private arm(): void {
    const onValue = (value: unknown): void => {
      if (this.onValue === onValue) this.resume(value, false, undefined);
    };
    this.onValue = onValue;
    this.onError = (error: unknown): void => {
      if (this.onValue === onValue) this.resume(undefined, true, error);
    };
  }

  /** Delivers the pending interruption to the step the fiber waits on. */
  private deliver(): void {
    const step = this.waitingOn;
    if (step === undefined) return;
    if (step._tag === Tag.Async) {
      // A promise cannot be stopped: forget it (a late settlement is not heard) and unwind now.
      this.onValue = this.onError = undefined;
      queueMicrotask(() => {
        if (this.state === State.Suspended && this.waitingOn === step && this.onValue === undefined) {
          this.resume(undefined, false, undefined);
        }
      });
      return;
    }
    // A callback step: ask it to stop, and wait for its `done` (a killed child is reaped first).
    const cancel = this.cancel;
    this.cancel = undefined;
    if (cancel !== undefined) cancel();
  }

  private resume(value: unknown, failing: boolean, failure: unknown): void {
    const step = this.waitingOn;
    this.state = State.Running;
    this.waitingOn = undefined;
    this.cancel = undefined;
    if (this.interruption !== undefined && this.masked === 0) {
      failing = true;
      failure = this.interruption;
    } else if (!failing && step !== undefined && step._tag === Tag.Async && isIO(value) && !isJoin(this.stack[this.stack.length - 1])) {
      failing = true;
      failure = ioFrom("lib.task", step._a);
    }
    this.run(undefined, value, failing, failure, step);
  }

  private end(failed: boolean, value: unknown): void {
    this.state = State.Done;
    this.failed = failed;
    this.value = value;
    this.onValue = this.onError = undefined;
    const observer = this.observer;
    if (observer !== undefined) observer(this);
  }

  get done(): boolean {
    return this.state === State.Done;
  }
}

/** Marks a fiber that stopped at an asynchronous step; the loop resumes it later. */
const suspended: unique symbol = Symbol("suspended");

/**
 * Runs `io` to completion. Synchronous programs finish before `run` returns
 * (the promise is already settled) unless they pause for the event loop;
 * asynchronous steps suspend the loop.
 */
export function run<A>(io: IO<A>, ctx: PrimitiveContext, onSuspend?: (step: string) => void): Promise<A> {
  const fiber = start(io, ctx, undefined, onSuspend);
  if (fiber.done) return fiber.failed ? Promise.reject(fiber.value) : Promise.resolve(fiber.value as A);
  return new Promise<A>((resolve, reject) => {
    fiber.observer = (f) => (f.failed ? reject(f.value) : resolve(f.value as A));
  });
}

/** Starts `io` in a new fiber, at once; `observer` is told when it ends (maybe before `start` returns). */
export function start(
  io: IO<unknown>,
  ctx: PrimitiveContext,
  observer?: (fiber: Fiber) => void,
  onSuspend?: (step: string) => void,
): Fiber {
  const fiber = new Fiber(ctx, onSuspend);
  fiber.observer = observer;
  fiber.run(io as unknown as Node, undefined, false, undefined, undefined);
  return fiber;
}

/**
 * Starts `io` in a fiber beside the running one, for combinators. It runs at
 * once, up to its first wait (on a later tick when fibers are nested deep).
 */
export function fork(io: IO<unknown>, ctx: PrimitiveContext, observer: (fiber: Fiber) => void, slot: number): Fiber {
  const fiber = new Fiber(ctx);
  fiber.observer = observer;
  fiber.slot = slot;
  if (nesting >= maxNesting && !ctx.synchronous) fiber.pause(io as unknown as Node, undefined, queueMicrotask);
  else fiber.run(io as unknown as Node, undefined, false, undefined, undefined);
  return fiber;
}

/**
 * Runs `io` synchronously (unsafePerformIO). Reaching an asynchronous step is
 * an error that names the step, raised before that step starts.
 */
export function runSync<A>(io: IO<A>, ctx: PrimitiveContext): A {
  const fiber = new Fiber(ctx.synchronous ? ctx : { ...ctx, synchronous: true });
  return loop(fiber, io as unknown as Node, undefined, false, undefined, undefined) as A;
}

function loop(
  fiber: Fiber,
  start: Node | undefined,
  startValue: unknown,
  failing: boolean,
  failure: unknown,
  // The frame or node whose code is running, for the trace of an error it throws.
  running: Node | undefined,
): unknown {
  const stack = fiber.stack;
  let cur: Node | undefined = start;
  let value: unknown = startValue;
  let budget = stepsBetweenPauses;
  for (;;) {
    try {
      if (failing) {
        failing = false; // `running` is the step that failed (resume passes it)
        throw failure;
      }
      for (;;) {
        if (--budget === 0) {
          budget = stepsBetweenPauses;
          if (!fiber.ctx.synchronous) {
            fiber.pause(cur, value, setImmediate);
            return suspended;
          }
        }
        if (cur !== undefined) {
          switch (cur._tag) {
            case Tag.Pure:
              value = cur._a;
              break;
            case Tag.Chain: {
              // bind(unit(a), f) and bind(io(g), f), the steps of every recursive loop, need no
              // frame: call f at once (as popping the frame would). Halves the bind loop's time.
              const inner: Node = cur._a;
              if (inner._tag === Tag.Pure) {
                running = cur;
                const f = cur._b; // called without a receiver: stack traces name the user's function
                const next: unknown = f(inner._a);
                if (!isIO(next)) throw notIO(cur, next);
                cur = next as Node;
                continue;
              }
              if (inner._tag === Tag.Sync) {
                running = inner;
                const effect = inner._a;
                const a: unknown = effect();
                if (typeof a === "object" && a !== null && (isThenable(a) || isIO(a))) refuseResult("lib.io", effect, a, cur);
                running = cur;
                const f = cur._b;
                const next: unknown = f(a);
                if (!isIO(next)) throw notIO(cur, next);
                cur = next as Node;
                continue;
              }
              if (inner._tag === Tag.Primitive) {
                // bind(primitive, f), a dlopen or fetchgit step in a loop: a primitive that answers at
                // once (unit) needs no frame either.
                running = inner;
                const ctx = fiber.ctx;
                if (ctx.verbose) ctx.log(inner._b);
                const begin = inner._a;
                const produced: unknown = begin(ctx);
                if (!isIO(produced)) throw new TypeError(`primitive ${inner._b} produced ${describeValue(produced)}, not an IO value`);
                if ((produced as Node)._tag !== Tag.Pure) {
                  stack.push(cur);
                  cur = produced as Node;
                  continue;
                }
                running = cur;
                const f = cur._b;
                const next: unknown = f((produced as Node)._a);
                if (!isIO(next)) throw notIO(cur, next);
                cur = next as Node;
                continue;
              }
              stack.push(cur);
              cur = inner;
              continue;
            }
            case Tag.Map: {
              const inner: Node = cur._a;
              if (inner._tag === Tag.Map && !isTracing()) {
                // A chain of maps (the left-nested shape): one frame holding its functions in an
                // array of the right size, instead of a frame each (twice as fast on 10^6 maps).
                cur = enterMapChain(stack, cur);
                continue;
              }
              stack.push(cur);
              cur = inner;
              continue;
            }
            case Tag.Attempt:
            case Tag.Ensuring:
              stack.push(cur);
              cur = cur._a;
              continue;
            case Tag.Sync: {
              running = cur;
              const effect = cur._a;
              value = effect();
              if (typeof value === "object" && value !== null && (isThenable(value) || isIO(value))) refuseResult("lib.io", effect, value, stack[stack.length - 1]);
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
              if (fiber.interruption !== undefined && fiber.masked === 0) throw fiber.interruption;
              const begin = cur._a;
              fiber.await(cur, begin());
              if (fiber.onSuspend) fiber.onSuspend(describeStep(cur));
              return suspended;
            }
            case Tag.Suspend:
              if (fiber.ctx.synchronous) {
                running = cur;
                throw asyncInSync(cur);
              }
            // falls through: the same protocol
            case Tag.Concurrent: {
              running = cur;
              if (fiber.interruption !== undefined && fiber.masked === 0) throw fiber.interruption;
              const done = fiber.doneForNextStep();
              const begin = cur._a;
              fiber.state = State.Starting;
              const cancel: (() => void) | undefined = begin(fiber.ctx, done);
              fiber.state = State.Running;
              if (fiber.early !== 0) {
                // Done before start returned (synchronous children, a cached answer): carry on.
                const failed = fiber.early === 2;
                value = fiber.earlyValue;
                fiber.early = 0;
                fiber.earlyValue = undefined;
                if (failed) throw value;
                break;
              }
              if (fiber.ctx.synchronous) {
                if (cancel !== undefined) cancel();
                throw asyncInSync(cur);
              }
              fiber.wait(cur, cancel);
              if (fiber.onSuspend) fiber.onSuspend(describeStep(cur));
              return suspended;
            }
            case Tag.Mask:
              stack.push(cur);
              fiber.masked += cur._b;
              if (fiber.masked === 0 && fiber.interruption !== undefined) {
                running = undefined;
                throw fiber.interruption; // let through again (bracket's use): a pending interruption lands now
              }
              cur = cur._a;
              continue;
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
          if (typeof value === "object" && value !== null && (isThenable(value) || isIO(value))) refuseResult("lib.map", f, value, stack[stack.length - 1]);
          cur = undefined;
        } else if (k._tag === Tag.Chain) {
          cur = f(value);
          if (!isIO(cur)) throw notIO(k, cur);
        } else {
          cur = undefined;
          value = leaveFrame(fiber, k, value);
          if (value === runFinalizer) cur = k._b;
        }
      }
    } catch (error) {
      fiber.state = State.Running; // a callback step's start may have thrown
      failure = error;
      // Unwind to the nearest attempt or finalizer; collect the trace of what we leave.
      const trace = isTracing() ? traceOf(error) : undefined;
      if (running !== undefined && running._tag === Tag.Async) noteFailedTask(error, running);
      const failed = trace && running && nodeTrace(running);
      if (failed) trace.push(formatTrace(failed));
      running = undefined;
      let k: Node | undefined;
      while ((k = stack.pop()) !== undefined) {
        const tag = k._tag;
        if (tag === Tag.Ensuring || (tag === Tag.Attempt && !(failure instanceof Interruption))) break;
        if (tag === Tag.Mask) fiber.masked -= k._b;
        else if (tag === Tag.Restore) {
          // A finalizer failed: the failure it interrupted, if any, is the one that goes on.
          fiber.masked--;
          if (k._b === true) failure = k._a;
        }
        const unwound = trace && nodeTrace(k);
        if (unwound) trace.push(formatTrace(unwound));
      }
      if (k === undefined) throw failure;
      if (k._tag === Tag.Attempt) {
        value = { _tag: "Left", left: toError(failure) };
        cur = undefined;
        // Leaving a masked region may let a pending interruption through.
        if (fiber.interruption !== undefined && fiber.masked === 0) {
          failing = true;
          failure = fiber.interruption;
        }
      } else {
        stack.push(new Node(Tag.Restore, failure, true));
        fiber.masked++;
        cur = k._b;
      }
    }
  }
}

/**
 * Enters a chain of at least two maps: pushes one `Maps` frame with the chain's
 * functions, innermost first, and returns the IO under the chain.
 */
function enterMapChain(stack: Node[], top: Node): Node {
  let length = 0;
  let node = top;
  while (node._tag === Tag.Map) {
    length++;
    node = node._a;
  }
  const functions = new Array<(a: unknown) => unknown>(length);
  node = top;
  for (let i = length - 1; i >= 0; i--) {
    functions[i] = node._b;
    node = node._a;
  }
  stack.push(new Node(Tag.Maps, functions, undefined));
  return node;
}

/** Tells the loop to run the finalizer of the `Ensuring` frame it popped. */
const runFinalizer: unique symbol = Symbol("runFinalizer");

/**
 * A value leaves an Attempt, Ensuring, Mask or Restore frame (the rarer frames,
 * kept out of the loop's hot path). Yields the value to carry on with, or
 * `runFinalizer`; throws what must go on failing.
 */
function leaveFrame(fiber: Fiber, k: Node, value: unknown): unknown {
  switch (k._tag) {
    case Tag.Maps: {
      const functions: ((a: unknown) => unknown)[] = k._a;
      for (let i = 0; i < functions.length; i++) {
        const f = functions[i]!; // called without a receiver: stack traces name the user's function
        value = f(value);
        if (typeof value === "object" && value !== null && (isThenable(value) || isIO(value))) {
          // Only the chain's last function hands its value on: to lib.join, maybe.
          refuseResult("lib.map", f, value, i === functions.length - 1 ? fiber.stack[fiber.stack.length - 1] : undefined);
        }
      }
      return value;
    }
    case Tag.Attempt:
      return { _tag: "Right", right: value };
    case Tag.Ensuring:
      // The value waits in a Restore frame while the finalizer runs, uninterrupted.
      fiber.stack.push(new Node(Tag.Restore, value, false));
      fiber.masked++;
      return runFinalizer;
    case Tag.Mask:
      fiber.masked -= k._b;
      break;
    case Tag.Restore:
      fiber.masked--;
      if (k._b === true) throw k._a;
      value = k._a;
      break;
  }
  if (fiber.masked === 0 && fiber.interruption !== undefined) throw fiber.interruption;
  return value;
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

/**
 * lib.io's or lib.map's function returned a Promise or an IO value (`value`, an object):
 * throws, unless it is an IO that `consumer`, the frame it goes to, is lib.join's (`join(map(f, io))`).
 */
function refuseResult(where: string, f: unknown, value: unknown, consumer: Node | undefined): void {
  if (isThenable(value)) throw promiseFrom(where, f, value);
  if (!isJoin(consumer)) throw ioFrom(where, f);
}

function isJoin(frame: Node | undefined): boolean {
  return frame !== undefined && frame._tag === Tag.Chain && frame._b === joinIdentity;
}

/**
 * An IO value returned where it is not run (`lib.io(() => lib.$\`ls\`)`, zx's habit): it would
 * be dropped, the program ending as if the command had run.
 */
function ioFrom(where: string, f: unknown): TsexecError {
  const instead =
    where === "lib.map"
      ? "to run it after the step, use lib.bind(io, (x) => nextIO) instead of lib.map"
      : where === "lib.io"
        ? "to build an IO when the step runs, use lib.defer(() => io) instead of lib.io (or lib.bind to run it after another step)"
        : "to run an IO after the task, use lib.bind(lib.task(() => promise), (x) => nextIO)";
  return new TsexecError(`the function given to ${where} (${describeFunction(f)}) returned an IO value, which ${where} does not run: ${instead}`);
}

/** lib.io's or lib.map's function returned a Promise: only lib.task awaits. */
export function promiseFrom(where: string, f: unknown, promise: unknown): TsexecError {
  // Its rejection, if it comes, is this error's news, not a crash as an unhandled rejection.
  try {
    (promise as PromiseLike<unknown>).then(undefined, ignore);
  } catch {
    // A thenable whose then throws: nothing to silence.
  }
  return new TsexecError(
    `the function given to ${where} (${describeFunction(f)}) returned a Promise: ${where} does not await it; ` +
      `for asynchronous work use lib.task(() => promise)`,
  );
}

/** The innermost failed task, once: outer frames must not overwrite it. Only a lib.task (no label) counts. */
export function noteFailedTask(error: unknown, node: Node): void {
  if (typeof error !== "object" || error === null || failedTaskKey in error || node._b !== undefined) return;
  try {
    Object.defineProperty(error, failedTaskKey, { value: node._a, enumerable: false, configurable: true });
  } catch {
    // A frozen error names no task.
  }
}

/** `lib.task(fetchIt)`, with where it was built under --show-trace. */
export function describeStep(node: Node): string {
  const site = nodeTrace(node)?.site;
  const name = node._tag === Tag.Async && node._b === undefined ? `lib.task(${describeFunction(node._a)})` : node._b;
  return `${name}${site ? ` (built at ${site})` : ""}`;
}

function asyncInSync(node: Node): TsexecError {
  return new TsexecError(
    `unsafePerformIO cannot run asynchronous work: it reached ${describeStep(node)}. ` +
      `Sequence asynchronous steps with lib.bind/lib.map in the program tsexec runs instead.`,
  );
}


function ignore(): void {}
