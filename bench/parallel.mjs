// lib.all over 100,000 lib.task steps against plain Promise.all over the same
// task functions and the newest Effect's Effect.all
// with { concurrency: "unbounded" }. (The pinned Effect 3 is left out: it takes
// about 30 s per run of this size, over 100x the others.) Each engine runs in a process of its own;
// the engines take turns over several rounds; ratios are medians of per-round ratios.
// TSEXEC_BENCH_ALSO=dir1,dir2 adds other built checkouts.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { benchRoot, formatMs, median, pairedRatio } from "./lib/measure.mjs";

const worker = join(benchRoot, "lib", "parallel-worker.mjs");
const others = (process.env.TSEXEC_BENCH_ALSO ?? "").split(",").filter(Boolean);
const engines = [
  { name: "tsexec", label: "tsexec lib.all of lib.task" },
  ...others.map((dir) => ({ name: `tsexec@${dir}`, label: `tsexec (${dir})` })),
  { name: "promise-all", label: "Promise.all" },
  { name: "effect-latest", label: "newest Effect, Effect.all unbounded" },
];

function spawnWorker(engine, n, reps) {
  const result = spawnSync(process.execPath, ["--expose-gc", worker, engine, String(n), String(reps)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${engine} failed (${result.signal ?? `exit ${result.status}`}):\n${result.stderr.trim()}`);
  return JSON.parse(result.stdout.trim().split("\n").pop());
}

export async function run(report) {
  const n = 100_000;
  const rounds = report.quick ? 2 : 5;
  const reps = report.quick ? 5 : 10;
  report.note(`module exports (not a script run by tsexec: see bench/scripts.mjs); newest Effect measured: effect@${JSON.parse(readFileSync(join(benchRoot, "node_modules", "effect-latest", "package.json"), "utf8")).version}`);
  const perRound = Object.fromEntries(engines.map((e) => [e.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? engines : [...engines].reverse();
    for (const engine of order) perRound[engine.name].push(median(spawnWorker(engine.name, n, reps).ms));
  }
  const ratio = (a, b) => pairedRatio(perRound, b, a);
  report.table(
    `all of ${n.toLocaleString("en")} tasks (build + run), ${rounds} rounds x ${reps} runs (median), one process per engine`,
    ["engine", "time", "vs tsexec"],
    engines.map((e) => [e.label, formatMs(median(perRound[e.name])), `${ratio("tsexec", e.name).toFixed(2)}x`]),
  );
  const rows = [
    ["newest Effect / tsexec (how many times faster tsexec is)", report.target("all: tsexec vs newest Effect", ratio("tsexec", "effect-latest"), { op: ">=", value: 4 })],
    ["tsexec / Promise.all (the cost over plain promises)", report.target("all: tsexec / Promise.all", ratio("promise-all", "tsexec"), { op: "<=", value: 1.5 })],
    ...others.map((dir) => [`${dir} / tsexec`, `${ratio("tsexec", `tsexec@${dir}`).toFixed(2)}x`]),
  ];
  report.table("parallel ratios (median of per-round ratios)", ["ratio", "measured"], rows);
}
