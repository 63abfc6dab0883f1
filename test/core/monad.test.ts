// The monad laws and the interpreter, checked on generated values (fast-check).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { pipe } from "fp-ts/function";
import * as RA from "fp-ts/ReadonlyArray";
import { attempt, bind, io, isIO, join, map, mapM, task, unit, type IO } from "../../src/monad/io.js";
import { Applicative, ChainRec, Monad } from "../../src/monad/instances.js";
import { run, runSync } from "../../src/runtime/interpreter.js";
import { makeContext } from "../../src/base/context.js";

const ctx = makeContext({ cacheDir: "/nonexistent" });
const runNow = <A>(program: IO<A>): A => runSync(program, ctx);

/** Generated IO programs over integers, with effects recorded in a log, and their reference meaning. */
type Program = { io: IO<number>; expect: (log: number[]) => number };
const programs: fc.Arbitrary<Program> = fc.letrec<{ program: Program }>((tie) => ({
  program: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer().map((n) => ({ io: unit(n), expect: () => n })),
    fc.tuple(fc.integer(), fc.constant(null)).map(([n]) => ({
      io: io(() => n),
      expect: () => n,
    })),
    fc.tuple(tie("program"), fc.integer()).map(([p, k]) => ({
      io: map((x: number) => x * 3 + k, p.io),
      expect: (log: number[]) => p.expect(log) * 3 + k,
    })),
    fc.tuple(tie("program"), tie("program")).map(([p, q]) => ({
      io: bind(p.io, (x: number) => map((y: number) => x - y, q.io)),
      expect: (log: number[]) => {
        const x = p.expect(log);
        return x - q.expect(log);
      },
    })),
    fc.tuple(tie("program")).map(([p]) => ({
      io: join(map((x: number) => unit(x + 1), p.io)),
      expect: (log: number[]) => p.expect(log) + 1,
    })),
  ),
})).program;

describe("monad laws (on generated programs and functions)", () => {
  const fn = fc.func(fc.integer());
  const kleisli = fc.func(fc.integer()).map((f) => (x: number) => unit(f(x)));

  it("left identity: bind(unit(a), f) == f(a)", () => {
    fc.assert(fc.property(fc.integer(), kleisli, (a, f) => runNow(bind(unit(a), f)) === runNow(f(a))));
  });
  it("right identity: bind(m, unit) == m", () => {
    fc.assert(fc.property(programs, (p) => runNow(bind(p.io, unit)) === runNow(p.io)));
  });
  it("associativity: bind(bind(m, f), g) == bind(m, x => bind(f(x), g))", () => {
    fc.assert(
      fc.property(programs, kleisli, kleisli, (p, f, g) => {
        return runNow(bind(bind(p.io, f), g)) === runNow(bind(p.io, (x) => bind(f(x), g)));
      }),
    );
  });
  it("functor identity and composition", () => {
    fc.assert(
      fc.property(programs, fn, fn, (p, f, g) => {
        expect(runNow(map((x: number) => x, p.io))).toBe(runNow(p.io));
        expect(runNow(map((x: number) => g(f(x)), p.io))).toBe(runNow(map(g, map(f, p.io))));
      }),
    );
  });
  it("join(map(f, m)) == bind(m, f)", () => {
    fc.assert(fc.property(programs, kleisli, (p, f) => runNow(join(map(f, p.io))) === runNow(bind(p.io, f))));
  });
  it("the interpreter agrees with the reference meaning, sync and async", async () => {
    await fc.assert(
      fc.asyncProperty(programs, async (p) => {
        expect(runNow(p.io)).toBe(p.expect([]));
        expect(await run(p.io, ctx)).toBe(p.expect([]));
      }),
    );
  });
});

describe("fp-ts instances", () => {
  it("sequenceArray, traverse and pipe work on tsexec IO", () => {
    const ios = [1, 2, 3].map((n) => unit(n * 2));
    expect(runNow(RA.sequence(Applicative)(ios))).toEqual([2, 4, 6]);
    expect(runNow(pipe([1, 2, 3], RA.traverse(Applicative)((n: number) => unit(n + 1))))).toEqual([2, 3, 4]);
    expect(runNow(Monad.chain(unit(2), (n) => Monad.of(n * 10)))).toBe(20);
  });
  it("ChainRec runs 1e6 iterations without growing the JS stack", () => {
    const count = ChainRec.chainRec(0, (n: number) => unit(n < 1_000_000 ? { _tag: "Left" as const, left: n + 1 } : { _tag: "Right" as const, right: n }));
    expect(runNow(count)).toBe(1_000_000);
  });
});

describe("interpreter", () => {
  it("IO values are data: building runs nothing, running twice runs the effects twice", () => {
    let effects = 0;
    const program = map((n: number) => n + 1, io(() => ++effects));
    expect(effects).toBe(0);
    expect(runNow(program)).toBe(2);
    expect(runNow(program)).toBe(3);
    expect(effects).toBe(2);
  });

  it("is stack safe on 10,000,000 right-nested binds (a recursive loop)", () => {
    const loop = (n: number): IO<number> => (n === 0 ? unit(0) : bind(unit(n), () => loop(n - 1)));
    expect(runNow(loop(10_000_000))).toBe(0);
  });

  it("is stack safe on 10,000,000 left-nested maps", () => {
    let program: IO<number> = unit(0);
    for (let i = 0; i < 10_000_000; i++) program = map((n: number) => n + 1, program);
    expect(runNow(program)).toBe(10_000_000);
  });

  it("runs a recursive loop of 10,000,000 steps in constant memory", () => {
    const loop = (n: number): IO<number> => (n === 0 ? unit(0) : bind(io(() => n), (m) => loop(m - 1)));
    runNow(loop(100_000)); // warm up
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const sampled = (n: number): IO<number> =>
      n === 0
        ? unit(0)
        : bind(io(() => (n % 1_000_000 === 0 && (peak = Math.max(peak, process.memoryUsage().heapUsed)), n)), (m) => sampled(m - 1));
    expect(runNow(sampled(10_000_000))).toBe(0);
    // A leak of even 8 bytes a step would be 80 MB; allow garbage not yet collected.
    expect(peak - before).toBeLessThan(40 * 1024 * 1024);
  });

  it("synchronous steps never wait on the event loop", async () => {
    const order: string[] = [];
    setImmediate(() => order.push("immediate"));
    queueMicrotask(() => order.push("microtask"));
    let program: IO<number> = unit(0);
    for (let i = 0; i < 1000; i++) program = bind(program, (n) => io(() => n + 1));
    const done = run(map((n: number) => (order.push(`done ${n}`), n), program), ctx);
    expect(order).toEqual(["done 1000"]);
    await done;
  });

  it("awaits lib.task and resumes the loop; a long asynchronous loop completes", async () => {
    const loop = (n: number): IO<number> => (n === 0 ? unit(0) : bind(task(() => Promise.resolve(n - 1)), loop));
    expect(await run(loop(100_000), ctx)).toBe(0);
  });

  it("attempt turns failures (sync, async, non-Error) into Left and values into Right", async () => {
    const boom = io((): number => {
      throw new Error("boom");
    });
    expect(runNow(attempt(unit(1)))).toEqual({ _tag: "Right", right: 1 });
    const left = runNow(attempt(map((n: number) => n + 1, boom)));
    expect(left._tag).toBe("Left");
    expect(left._tag === "Left" && left.left.message).toBe("boom");
    const rejected = await run(attempt(task(() => Promise.reject("nope"))), ctx);
    expect(rejected._tag === "Left" && rejected.left.message).toBe("nope");
    // After an attempt, the program goes on.
    expect(runNow(bind(attempt(boom), () => unit("after")))).toBe("after");
  });

  it("an uncaught failure rejects run() with the original error", async () => {
    const error = new Error("original");
    await expect(run(map(() => { throw error; }, unit(1)), ctx)).rejects.toBe(error);
  });

  it("mapM runs in order and each run gets a fresh result array", () => {
    const seen: number[] = [];
    const program = mapM((n: number) => io(() => (seen.push(n), n * n)), [1, 2, 3]);
    expect(runNow(program)).toEqual([1, 4, 9]);
    expect(runNow(program)).toEqual([1, 4, 9]);
    expect(seen).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it("IO values chain as methods", () => {
    expect(runNow(unit(2).map((n) => n + 1).bind((n) => unit(n * 10)))).toBe(30);
    expect(isIO(unit(1))).toBe(true);
    expect(isIO({})).toBe(false);
  });
});

describe("bad input", () => {
  it("map given a non-function, join of a non-IO, bind returning a non-IO", () => {
    expect(() => map(3 as never, unit(1))).toThrow("lib.map expects a function as its first argument (map f io), got a number (3)");
    expect(() => join(5 as never)).toThrow("lib.join expects an IO value (join io), got a number (5)");
    expect(() => runNow(join(unit(5) as never))).toThrow("lib.join: the IO yielded a number (5), not an IO value");
    expect(() => runNow(bind(unit(1), function next() { return Promise.resolve(2) as never; }))).toThrow(
      "the function given to lib.bind (next) returned a Promise, not an IO value (a Promise is not an IO: wrap it in lib.task(() => promise))",
    );
  });

  it("unsafePerformIO (runSync) refuses asynchronous work before starting it, naming the step", () => {
    let started = false;
    const program = bind(unit(1), () => task(function download() { started = true; return Promise.resolve(2); }));
    expect(() => runNow(program)).toThrow(/unsafePerformIO cannot run asynchronous work: it reached lib\.task\(download\)/);
    expect(started).toBe(false);
  });
});
