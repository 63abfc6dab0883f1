// One engine on one program shape, in a process of its own (so one engine's
// JIT state and heap never colour another's figures). bench/interpreter.mjs
// spawns it:
//
//     node --expose-gc bench/lib/interpreter-worker.mjs ENGINE SHAPE N REPS
//
//   ENGINE  tsexec-sync (unsafePerformIO), tsexec-run (the Promise `run`),
//           effect (Effect 3, pinned: Effect.runSync), effect-latest (the newest
//           Effect, installed as the alias effect-latest), fp-ts (fp-ts/IO, called directly);
//           tsexec-sync@DIR / tsexec-run@DIR: another built checkout (an A/B of a change)
//   SHAPE   bind: right-nested, loop(n) = n === 0 ? unit(0) : bind(unit(n), () => loop(n - 1))
//           io:   right-nested over synchronous steps, go(i) = i === n ? unit(i) : bind(io(() => i + 1), go)
//           map:  left-nested,  io = map(inc, io), n times, on unit(0)
//   REPS    timed repetitions after untimed warm-up runs at full size (see fullSizeWarmups);
//           0: a single run at full size, no full-size warm-up (for N = 1e7)
//
// Prints one line of JSON: { buildMs[], runMs[], maxRssBytes } or
// { overflow: true } when the engine overflowed the stack (RangeError).
// The result of every run is checked, so no engine can skip the work.
// Effect and fp-ts resolve from bench/node_modules (this file is under bench/).
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "./measure.mjs";

const [engineName, shape, nText, repsText] = process.argv.slice(2);
const n = Number(nText);
const reps = Number(repsText);

const inc = (x) => x + 1;

/** Each engine: `bind(n)` and `map(n)` build the program, `run(program)` runs it (maybe async). */
async function loadEngine(spec) {
  const [name, root = projectRoot] = spec.split("@");
  switch (name) {
    case "tsexec-sync":
    case "tsexec-run": {
      const tsexec = await import(pathToFileURL(join(root, "dist", "index.js")).href);
      const { unit, bind, map, io, unsafePerformIO, run } = tsexec;
      const loop = (i) => (i === 0 ? unit(0) : bind(unit(i), () => loop(i - 1)));
      return {
        bind: (size) => loop(size),
        io: (size) => {
          const go = (i) => (i === size ? unit(i) : bind(io(() => i + 1), go));
          return go(0);
        },
        map: (size) => {
          let io = unit(0);
          for (let i = 0; i < size; i++) io = map(inc, io);
          return io;
        },
        run: name === "tsexec-sync" ? unsafePerformIO : run,
      };
    }
    case "effect":
    case "effect-latest": {
      const { Effect } = await import(name);
      const loop = (i) => (i === 0 ? Effect.succeed(0) : Effect.flatMap(Effect.succeed(i), () => loop(i - 1)));
      return {
        bind: (size) => loop(size),
        io: (size) => {
          const go = (i) => (i === size ? Effect.succeed(i) : Effect.flatMap(Effect.sync(() => i + 1), go));
          return go(0);
        },
        map: (size) => {
          let io = Effect.succeed(0);
          for (let i = 0; i < size; i++) io = Effect.map(io, inc);
          return io;
        },
        run: Effect.runSync,
      };
    }
    case "fp-ts": {
      const IO = await import("fp-ts/lib/IO.js");
      const loop = (i) => (i === 0 ? IO.of(0) : IO.chain(() => loop(i - 1))(IO.of(i)));
      return {
        bind: (size) => loop(size),
        io: (size) => {
          const go = (i) => (i === size ? IO.of(i) : IO.chain(go)(() => i + 1));
          return go(0);
        },
        map: (size) => {
          let io = IO.of(0);
          for (let i = 0; i < size; i++) io = IO.map(inc)(io);
          return io;
        },
        run: (io) => io(),
      };
    }
    default:
      throw new Error(`unknown engine '${name}' (tsexec-sync, tsexec-run, effect, effect-latest, fp-ts)`);
  }
}

function expected(size) {
  return shape === "bind" ? 0 : size;
}

/**
 * A full collection (the worker runs with --expose-gc) between building the map
 * chain and running it: the collector's debt from building a million live nodes
 * belongs to the build, not to runSync. Only there: a collection also resets V8's
 * heap sizing, which would slow an allocation-heavy run (the bind loop) that follows it.
 */
const collectBuildGarbage = shape === "map" && typeof globalThis.gc === "function" ? globalThis.gc : () => {};

async function once(engine, size) {
  const t0 = process.hrtime.bigint();
  const program = engine[shape](size);
  const t1 = process.hrtime.bigint();
  collectBuildGarbage();
  const t1b = process.hrtime.bigint();
  const value = await engine.run(program);
  const t2 = process.hrtime.bigint();
  if (value !== expected(size)) throw new Error(`${engineName} ${shape} ${size} yielded ${value}, expected ${expected(size)}`);
  return { buildMs: Number(t1 - t0) / 1e6, runMs: Number(t2 - t1b) / 1e6 };
}

/**
 * Untimed runs at full size before the timed ones, the same number for every engine: the
 * figures are steady-state throughput, as a long program sees it. One is not enough. V8
 * sizes its young generation from how much survived earlier collections, and starts at its
 * minimum (1 MB) in a process whose start-up left little behind: a loop that leaves nothing
 * alive then collects every megabyte until enough has survived to grow it. tsexec's lean
 * start-up made its first runs of a bind loop 20-25% slower than its later ones (19 vs
 * 15.5 ms per 10^6 steps; Effect's own loop keeps enough alive to reach 16 MB at once).
 */
const fullSizeWarmups = 5;

async function main() {
  if (!["bind", "io", "map"].includes(shape)) throw new Error(`unknown shape '${shape}' (bind, io, map)`);
  const engine = await loadEngine(engineName);
  const buildMs = [];
  const runMs = [];
  try {
    // Warm-up at a size that still fits a recursive engine's stack, then at full size.
    await once(engine, Math.min(n, 1000));
    if (reps > 0) for (let i = 0; i < fullSizeWarmups; i++) await once(engine, n);
    for (let i = 0; i < Math.max(reps, 1); i++) {
      const t = await once(engine, n);
      buildMs.push(t.buildMs);
      runMs.push(t.runMs);
    }
  } catch (error) {
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      process.stdout.write(JSON.stringify({ overflow: true }) + "\n");
      return;
    }
    throw error;
  }
  process.stdout.write(JSON.stringify({ buildMs, runMs, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + "\n");
}

await main();
