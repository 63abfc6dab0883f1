// Fibers, interruption, finalizers and the parallel combinators, in process
// (the end-to-end tests beside this file send real signals to the real binary).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { pipe } from "fp-ts/function";
import * as RA from "fp-ts/ReadonlyArray";
import { attempt, bind, bracket, ensuring, io, map, task, unit, type IO } from "../../src/monad/io.js";
import { ApplicativePar, all, allSettled, exit, mapPar, race, sleep, timeout } from "../../src/runtime/concurrency.js";
import { Interruption, failedTaskFunction, run, runSync, start } from "../../src/runtime/interpreter.js";
import { makeContext } from "../../src/base/context.js";

const ctx = makeContext({ cacheDir: "/nonexistent" });
const runIO = <A>(program: IO<A>): Promise<A> => run(program, ctx);
const fail = (message: string): IO<never> =>
  io(() => {
    throw new Error(message);
  });
const record = (log: string[], line: string): IO<void> => io(() => void log.push(line));

describe("finalizers", () => {
  it("bracket releases in reverse order of acquisition after success, failure and interruption", async () => {
    for (const ending of ["success", "failure", "interruption"] as const) {
      const log: string[] = [];
      const resource = (name: string, inner: IO<unknown>): IO<unknown> =>
        bracket(
          map(() => name, record(log, `acquire ${name}`)),
          (r) => bind(record(log, `use ${r}`), () => inner),
          (r) => record(log, `release ${r}`),
        );
      const innermost = ending === "success" ? unit("ok") : ending === "failure" ? fail("boom") : sleep(10_000);
      const program = resource("a", resource("b", resource("c", innermost)));
      const fiber = start(program, ctx);
      if (ending === "interruption") {
        await new Promise((r) => setTimeout(r, 20));
        fiber.interrupt(new Interruption("stop", 130));
      }
      await new Promise<void>((resolve) => {
        if (fiber.done) resolve();
        else fiber.observer = () => resolve();
      });
      expect(log).toEqual(["acquire a", "use a", "acquire b", "use b", "acquire c", "use c", "release c", "release b", "release a"]);
      expect(fiber.failed).toBe(ending !== "success");
      if (ending === "interruption") expect(fiber.value).toBeInstanceOf(Interruption);
    }
  });

  it("ensuring runs its finalizer exactly once, and a failing finalizer does not hide the failure it followed", async () => {
    let runs = 0;
    const counted = io(() => void runs++);
    await expect(runIO(ensuring(fail("first"), bind(counted, () => fail("finalizer"))))).rejects.toThrow("first");
    expect(runs).toBe(1);
    await expect(runIO(ensuring(unit(1), bind(counted, () => fail("finalizer"))))).rejects.toThrow("finalizer");
    expect(runs).toBe(2);
    expect(await runIO(ensuring(task(async () => 5), counted))).toBe(5);
    expect(runs).toBe(3);
  });

  it("an interruption during acquire waits for it, then releases; attempt does not catch interruption", async () => {
    const log: string[] = [];
    const program = attempt(
      bracket(
        bind(sleep(30), () => map(() => "r", record(log, "acquired"))),
        () => bind(record(log, "use"), () => sleep(10_000)),
        () => record(log, "released"),
      ),
    );
    const fiber = start(bind(program, (e) => record(log, `attempt yielded ${e._tag}`)), ctx);
    setTimeout(() => fiber.interrupt(new Interruption("stop", 143)), 5);
    await new Promise<void>((resolve) => (fiber.observer = () => resolve()));
    expect(log).toEqual(["acquired", "released"]);
    expect((fiber.value as Interruption).exitCode).toBe(143);
  });

  it("lib.exit ends the program after finalizers, through attempt", async () => {
    const log: string[] = [];
    const error = await runIO(attempt(ensuring(exit(7), record(log, "finalized")))).catch((e) => e);
    expect(error).toBeInstanceOf(Interruption);
    expect(error.exitCode).toBe(7);
    expect(log).toEqual(["finalized"]);
  });
});

describe("all, mapPar, allSettled", () => {
  it("yields results in order whatever order the steps finish in (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer(), fc.integer({ min: 0, max: 5 }), fc.constantFrom("task", "io", "unit", "sleep")), { maxLength: 30 }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        async (steps, concurrency) => {
          const ios = steps.map(([value, delay, kind]) =>
            kind === "task"
              ? task(() => new Promise<number>((r) => setTimeout(r, delay, value)))
              : kind === "io"
                ? io(() => value)
                : kind === "unit"
                  ? unit(value)
                  : map(() => value, sleep(delay)),
          );
          expect(await runIO(all(ios, { concurrency }))).toEqual(steps.map(([v]) => v));
          expect(await runIO(mapPar((io: IO<number>) => map((x) => x * 2, io), ios, { concurrency }))).toEqual(steps.map(([v]) => v * 2));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("raises the first failure once every other step has been interrupted and its finalizers have run (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
        async (delays, pick, concurrency) => {
          const failing = pick % delays.length;
          const finalized: number[] = [];
          const started: number[] = [];
          const ios = delays.map((delay, i) =>
            ensuring(
              bind(record([], ""), () => {
                started.push(i);
                // The others finish soon or never: those still running when one fails are interrupted.
                return i === failing ? bind(sleep(delay), () => fail(`step ${i}`)) : map(() => i, sleep(concurrency === undefined && delay % 2 ? 10_000 : delay));
              }),
              io(() => void finalized.push(i)),
            ),
          );
          await expect(runIO(all(ios, { concurrency }))).rejects.toThrow(`step ${failing}`);
          // Every step that started has ended (its finalizer ran) before all failed; none ran after.
          expect([...finalized].sort((a, b) => a - b)).toEqual([...started].sort((a, b) => a - b));
        },
      ),
      { numRuns: 30 },
    );
  });

  it("never runs more than `concurrency` at once", async () => {
    let running = 0;
    let most = 0;
    const step = (i: number) =>
      ensuring(
        bind(
          io(() => void (most = Math.max(most, ++running))),
          () => map(() => i, sleep(i % 3)),
        ),
        io(() => void running--),
      );
    const result = await runIO(mapPar(step, Array.from({ length: 20 }, (_, i) => i), { concurrency: 3 }));
    expect(result).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(3);
  });

  it("allSettled yields Either outcomes and stops nothing", async () => {
    const outcomes = await runIO(allSettled([unit(1), fail("no"), task(async () => 3), task(() => Promise.reject(new Error("later")))]));
    expect(outcomes.map((o) => (o._tag === "Right" ? o.right : o.left.message))).toEqual([1, "no", 3, "later"]);
  });

  it("a rejected task among bare tasks fails all, and the other steps are interrupted", async () => {
    const log: string[] = [];
    const ios = [task(async () => 1), task(() => Promise.reject(new Error("rejected"))), ensuring(sleep(10_000), record(log, "sleeper finalized"))];
    await expect(runIO(all(ios as IO<unknown>[]))).rejects.toThrow("rejected");
    expect(log).toEqual(["sleeper finalized"]);
  });

  it("mapped tasks (lib.map over lib.task) yield their mapped values in order, beside other steps", async () => {
    const later = (value: number, ms: number) => task(() => new Promise<number>((r) => setTimeout(r, ms, value)));
    const ios: IO<unknown>[] = [map((n) => n * 10, later(1, 30)), unit("u"), map(String, map((n) => n + 1, later(2, 5))), task(async () => 4), map((n) => [n], task(() => 5 as unknown as Promise<number>))];
    expect(await runIO(all(ios))).toEqual([10, "u", "3", 4, [5]]);
    expect(await runIO(all(ios.filter((_, i) => i !== 1)))).toEqual([10, "3", 4, [5]]);
  });

  it("a map's function over a failed batch of tasks does not run, and one that returns a Promise is lib.map's error", async () => {
    const ran: number[] = [];
    const slow = map((n: number) => void ran.push(n), task(() => new Promise<number>((r) => setTimeout(r, 30, 1))));
    const failing = map((n: number) => void ran.push(n), task(() => Promise.reject(new Error("rejected"))));
    await expect(runIO(all([slow, failing]))).rejects.toThrow("rejected");
    await new Promise((r) => setTimeout(r, 50));
    expect(ran).toEqual([]);
    const promising = map((n: number) => Promise.resolve(n), task(async () => 1));
    await expect(runIO(all([promising]))).rejects.toThrow(/the function given to lib.map \(.*\) returned a Promise/);
  });

  it("the task whose rejection fails an all of tasks is named, bare or mapped", async () => {
    for (const mapped of [false, true]) {
      const bad = () => Promise.reject(new Error("bad task"));
      const rejecting = mapped ? map((n: number) => n, task(bad)) : task(bad);
      const error = await runIO(all([task(async () => 1), rejecting as IO<unknown>, map((n: number) => n, task(async () => 2))])).catch((e) => e);
      expect(error.message).toBe("bad task");
      expect(failedTaskFunction(error)).toBe(bad);
    }
  });

  it("ApplicativePar runs fp-ts traverse in parallel", async () => {
    const log: string[] = [];
    const step = (n: number) => bind(record(log, `start ${n}`), () => bind(sleep(20), () => map(() => n, record(log, `end ${n}`))));
    const result = await runIO(pipe([1, 2, 3], RA.traverse(ApplicativePar)(step)));
    expect(result).toEqual([1, 2, 3]);
    expect(log.slice(0, 3).sort()).toEqual(["start 1", "start 2", "start 3"]);
  });
});

describe("race and timeout", () => {
  it("race yields the first to finish once the losers have been interrupted and finalized", async () => {
    const log: string[] = [];
    const winner = await runIO(
      bind(race([ensuring(map(() => "slow", sleep(10_000)), record(log, "slow finalized")), map(() => "fast", sleep(5))]), (w) =>
        map(() => w, record(log, `won by ${w}`)),
      ),
    );
    expect(winner).toBe("fast");
    expect(log).toEqual(["slow finalized", "won by fast"]);
  });

  it("timeout fails naming the step and the limit after interrupting it", async () => {
    const log: string[] = [];
    const slow = task(function fetchTheWorld() {
      return new Promise(() => {});
    });
    const error = await runIO(timeout(30, ensuring(slow, record(log, "finalized")))).catch((e) => e);
    expect(error.message).toBe("lib.timeout: lib.task(fetchTheWorld) did not finish within 30 ms; it was interrupted");
    expect(log).toEqual(["finalized"]);
    expect(await runIO(timeout(1000, unit(4)))).toBe(4);
  });

  it("a timeout is not swallowed by an attempt inside it", async () => {
    const inner = attempt(sleep(10_000));
    await expect(runIO(timeout(20, inner))).rejects.toThrow(/did not finish within 20 ms/);
  });
});

describe("under unsafePerformIO", () => {
  it("combinators over synchronous IO work", () => {
    expect(runSync(all([unit(1), io(() => 2), map((x: number) => x + 1, unit(2))]), ctx)).toEqual([1, 2, 3]);
    expect(runSync(race([unit("a"), unit("b")]), ctx)).toBe("a");
    expect(runSync(timeout(10, io(() => 5)), ctx)).toBe(5);
    expect(runSync(allSettled([unit(1), fail("x")]), ctx).map((e) => e._tag)).toEqual(["Right", "Left"]);
  });

  it("reaching asynchronous work is the error it always was", () => {
    const fetchIt = () => Promise.resolve(1);
    expect(() => runSync(all([unit(1), task(fetchIt)]), ctx)).toThrow(/unsafePerformIO cannot run asynchronous work: it reached lib\.task\(fetchIt\)/);
    expect(() => runSync(sleep(5), ctx)).toThrow(/it reached lib\.sleep\(5 ms\)/);
  });
});

describe("map chains", () => {
  it("a long chain of maps applies its functions innermost first, and a throw in the middle fails it", () => {
    let chain: IO<string> = unit("");
    for (let i = 0; i < 100; i++) chain = map((s: string) => s + (i % 10), chain);
    expect(runSync(chain, ctx)).toBe("0123456789".repeat(10));
    let failing: IO<number> = unit(0);
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) {
      failing = map((n: number) => {
        seen.push(n);
        if (n === 20) throw new Error("at 20");
        return n + 1;
      }, failing);
    }
    const outcome = runSync(map((e) => (e._tag === "Left" ? e.left.message : "no"), attempt(map((n: number) => n * 2, failing))), ctx);
    expect(outcome).toBe("at 20");
    expect(seen).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });
});

describe("the interpreter stays stack safe with fibers", () => {
  it("runs a long asynchronous loop and deep nesting of all", async () => {
    const loop = (n: number): IO<number> => (n === 0 ? unit(0) : bind(task(async () => n), () => loop(n - 1)));
    expect(await runIO(loop(20_000))).toBe(0);
    const nested = (n: number): IO<number> => (n === 0 ? unit(0) : map(([x]) => x! + 1, all([nested(n - 1)])));
    expect(await runIO(nested(5_000))).toBe(5_000);
  });
});
