// Interpreter throughput: tsexec against Effect's runSync (the pinned Effect 3
// and the newest Effect, side by side) and fp-ts's IO on the same program
// shapes (see lib/interpreter-worker.mjs):
//   bind: right-nested, a recursive loop  loop(n) = n === 0 ? unit(0) : bind(unit(n), () => loop(n - 1))
//   io:   the loop scripts write          go(i) = i === n ? unit(i) : bind(io(() => i + 1), go)
//   map:  left-nested, a chain            io = map(inc, io), n times
// TSEXEC_BENCH_ALSO=dir1,dir2 adds other built checkouts (e.g. the previous
// commit) as engines in the same rounds, for an A/B of a change.
// Each engine runs in a process of its own with Node's default stack; the
// engines take turns over several rounds and every ratio is the median of the
// per-round ratios. Then one run at 10^7 shows tsexec is stack safe and how
// much memory it takes.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { benchRoot, formatBytes, formatMs, formatRate, median } from "./lib/measure.mjs";

const worker = join(benchRoot, "lib", "interpreter-worker.mjs");
const shapes = [
  { name: "bind", label: "right-nested bind loop (on lib.unit)" },
  { name: "io", label: "bind loop over lib.io steps" },
  { name: "map", label: "left-nested map chain" },
];
/** The engine the targets are measured against: the newest Effect. */
const reference = "effect-latest";
const others = (process.env.TSEXEC_BENCH_ALSO ?? "").split(",").filter(Boolean);
const engines = [
  { name: "tsexec-sync", label: "tsexec unsafePerformIO" },
  { name: "tsexec-run", label: "tsexec run (Promise)" },
  ...others.map((dir) => ({ name: `tsexec-sync@${dir}`, label: `tsexec unsafePerformIO (${dir})` })),
  { name: "effect-latest", label: "newest Effect, Effect.runSync" },
  { name: "effect", label: "Effect 3 (pinned), Effect.runSync" },
];

/** Runs one worker; returns its JSON answer. */
function spawnWorker(engine, shape, n, reps) {
  const result = spawnSync(process.execPath, ["--expose-gc", worker, engine, shape, String(n), String(reps)], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (result.status !== 0) {
    throw new Error(`${engine} on the ${shape} shape (n = ${n}) failed (${result.signal ?? `exit ${result.status}`}):\n${result.stderr.trim()}`);
  }
  return JSON.parse(result.stdout.trim().split("\n").pop());
}

export async function run(report) {
  const n = 1_000_000;
  const rounds = report.quick ? 1 : 4;
  const reps = report.quick ? 2 : 5;
  report.note(`module exports (not a script run by tsexec: see bench/scripts.mjs); newest Effect measured: effect@${JSON.parse(readFileSync(join(benchRoot, "node_modules", "effect-latest", "package.json"), "utf8")).version}`);
  const throughput = measureThroughput(n, rounds, reps);
  printThroughput(report, n, rounds, reps, throughput);
  printFpTs(report, n);
  printLarge(report, 10_000_000, throughput);
}

/** `{ [shape]: { [engine]: { build[], run[], total[], maxRssBytes } } }`: per-round medians. */
function measureThroughput(n, rounds, reps) {
  const results = {};
  for (const shape of shapes) {
    results[shape.name] = Object.fromEntries(engines.map((e) => [e.name, { build: [], run: [], total: [], maxRssBytes: 0 }]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? engines : [...engines].reverse();
      for (const engine of order) {
        const answer = spawnWorker(engine.name, shape.name, n, reps);
        const slot = results[shape.name][engine.name];
        slot.build.push(median(answer.buildMs));
        slot.run.push(median(answer.runMs));
        slot.total.push(median(answer.buildMs.map((b, i) => b + answer.runMs[i])));
        slot.maxRssBytes = Math.max(slot.maxRssBytes, answer.maxRssBytes);
      }
    }
  }
  return results;
}

function printThroughput(report, n, rounds, reps, results) {
  const rows = [];
  const ratios = [];
  for (const shape of shapes) {
    const byEngine = results[shape.name];
    const effect = byEngine[reference];
    // The map chain is built before runSync sees it: the run alone is runSync's throughput
    // (the target); the loops build each step as they run, so build and run are one.
    const timed = shape.name === "map" ? "run" : "total";
    for (const engine of engines) {
      const r = byEngine[engine.name];
      const vsEffect = median(r[timed].map((ms, i) => effect[timed][i] / ms));
      rows.push([
        shape.label,
        engine.label,
        formatMs(median(r.build)),
        formatMs(median(r.run)),
        formatRate((n / median(r.total)) * 1000),
        formatRate((n / median(r.run)) * 1000),
        `${vsEffect.toFixed(2)}x`,
      ]);
    }
    const tsexec = byEngine["tsexec-sync"];
    const ratio = (other) => median(tsexec[timed].map((ms, i) => other[timed][i] / ms));
    const what = shape.name === "map" ? ", runSync only" : "";
    ratios.push([`${shape.label}: tsexec / newest Effect${what}`, report.target(`${shape.name}: tsexec / newest Effect`, ratio(effect), { op: ">=", value: 4 })]);
    ratios.push([`${shape.label}: tsexec / Effect 3${what}`, `${ratio(byEngine.effect).toFixed(2)}x`]);
    if (shape.name === "map") {
      const total = median(tsexec.total.map((ms, i) => effect.total[i] / ms));
      ratios.push([`${shape.label}: tsexec / newest Effect, build + run (for information)`, `${total.toFixed(2)}x`]);
    }
    for (const dir of others) {
      ratios.push([`${shape.label}: tsexec / ${dir} (above 1: this checkout is faster)`, `${ratio(byEngine[`tsexec-sync@${dir}`]).toFixed(2)}x`]);
    }
  }
  report.table(
    `interpreter throughput, n = ${n.toLocaleString("en")} steps, ${rounds} round(s) x ${reps} runs (median), one process per engine`,
    ["shape", "engine", "build", "run", "steps/s", "steps/s (run only)", "vs newest Effect"],
    rows,
  );
  report.table("interpreter ratios (median of per-round ratios)", ["ratio", "measured"], ratios);
  report.note(
    "(building the map chain is mostly garbage collection of a million live nodes, for both engines; " +
      "a full collection, untimed, separates build and run, so the run is runSync's own work)",
  );
}

/** fp-ts's IO is a plain thunk: nesting is recursion, so it overflows; find where. */
function printFpTs(report, n) {
  const rows = [];
  for (const shape of shapes) {
    const answer = spawnWorker("fp-ts", shape.name, n, 1);
    if (!answer.overflow) {
      rows.push([shape.label, `no overflow at ${n.toLocaleString("en")}`, formatRate((n / median(answer.runMs)) * 1000)]);
      continue;
    }
    const largest = largestRunnable("fp-ts", shape.name, n);
    rows.push([shape.label, `stack overflow at ${n.toLocaleString("en")} (largest n that runs: ~${largest.toLocaleString("en")})`, "-"]);
  }
  report.table("fp-ts IO (fp-ts/IO chain and map), default stack", ["shape", "outcome", "steps/s"], rows);
}

/** The largest n (within 2%) at which `engine` still runs `shape`: a bisection over single runs. */
function largestRunnable(engine, shape, overflowing) {
  let low = 100;
  let high = overflowing;
  if (spawnWorker(engine, shape, low, 0).overflow) return 0;
  while (high - low > low * 0.02) {
    const mid = Math.floor((low + high) / 2);
    if (spawnWorker(engine, shape, mid, 0).overflow) high = mid;
    else low = mid;
  }
  return low;
}

/** One run of each shape at `n` (10^7) with the default stack: time and peak memory, beside the 10^6 runs'. */
function printLarge(report, n, throughput) {
  const rows = shapes.map((shape) => {
    const answer = spawnWorker("tsexec-sync", shape.name, n, 0);
    if (answer.overflow) return [shape.label, "STACK OVERFLOW", "-", "-", "-", "-"];
    const total = answer.buildMs[0] + answer.runMs[0];
    return [
      shape.label,
      "ok",
      formatMs(total),
      formatRate((n / total) * 1000),
      formatBytes(answer.maxRssBytes),
      formatBytes(throughput[shape.name]["tsexec-sync"].maxRssBytes),
    ];
  });
  report.table(
    `tsexec unsafePerformIO at n = ${n.toLocaleString("en")}, default stack, one run (peak RSS of the whole process)`,
    ["shape", "outcome", "build + run", "steps/s", "peak RSS", "peak RSS at 1e6"],
    rows,
  );
  report.note("(the map chain holds all n nodes before it runs, so its memory grows with n; the bind loop's should not)");
}
