// What scripts run: every shape here is a script (bench/fixtures/scripts/shapes.ts, written as the
// README writes scripts, with `lib`) run by the `tsexec` command, beside its peers:
//   loops (bind on lib.unit, bind on lib.io, the map chain) / the newest Effect's runSync, both
//     with each engine in its own `tsexec` process and with both in one process;
//   lib.all / lib.mapPar of 100,000 tasks, bare and mapped (lib.map(f, lib.task(g))) / the newest
//     Effect's Effect.all unbounded and Promise.all over the same .then-mapped promises;
//   lib.all of lib.exec("true") steps / Promise.all over child_process.spawn by hand;
//   lib.dlopen of abs(int), a fresh IO per call and one IO re-run, in a script loop / a bare koffi
//     call in a plain for loop.
// Every engine gets the same untimed full-size warm-ups (5) in its process; figures are medians,
// ratios medians of per-round ratios. The module-export figures (bench/interpreter, parallel,
// native) stand beside these, labelled as such.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { benchRoot, formatMs, median, projectRoot } from "./lib/measure.mjs";

const script = join(benchRoot, "fixtures", "scripts", "shapes.ts");
const launcher = join(projectRoot, "shebang", "tsexec");

function runScript(shape, n, reps, engines) {
  const result = spawnSync(process.execPath, [launcher, script, shape, String(n), String(reps), engines.join(",")], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
    env: { ...process.env, TSEXEC_CACHE_DIR: join(benchRoot, "node_modules", ".cache", "tsexec-scripts") },
  });
  if (result.status !== 0) throw new Error(`tsexec shapes.ts ${shape} (${engines}) failed (${result.signal ?? `exit ${result.status}`}):\n${result.stderr.trim()}`);
  return JSON.parse(result.stdout.trim().split("\n").pop());
}

/** Per-round medians of each engine: one process per engine (`separate`) or all in one. */
function measure(shape, n, reps, rounds, engines, separate) {
  const perRound = Object.fromEntries(engines.map((e) => [e, []]));
  for (let round = 0; round < rounds; round++) {
    if (separate) {
      const order = round % 2 === 0 ? engines : [...engines].reverse();
      for (const e of order) perRound[e].push(median(runScript(shape, n, reps, [e])[e]));
    } else {
      const answer = runScript(shape, n, reps, engines);
      for (const e of engines) perRound[e].push(median(answer[e]));
    }
  }
  return perRound;
}

const ratioOf = (perRound, slower, faster) => median(perRound[slower].map((ms, i) => ms / perRound[faster][i]));

export async function run(report) {
  const quick = report.quick;
  const rounds = quick ? 1 : 3;
  const reps = quick ? 3 : 7;
  const effectVersion = JSON.parse(readFileSync(join(benchRoot, "node_modules", "effect-latest", "package.json"), "utf8")).version;
  report.note(`newest Effect measured: effect@${effectVersion} (bench/node_modules/effect-latest)`);
  const rows = [];
  const ratios = [];

  const loops = [
    ["bind", "right-nested bind loop on lib.unit"],
    ["io", "bind loop over lib.io steps"],
    ["map", "left-nested map chain (run)"],
  ];
  for (const [shape, label] of loops) {
    for (const separate of [true, false]) {
      const where = separate ? "own processes" : "one process";
      const r = measure(shape, 1_000_000, reps, rounds, ["tsexec", "effect"], separate);
      rows.push([`${label}, 10^6 steps (${where})`, formatMs(median(r.tsexec)), `Effect ${formatMs(median(r.effect))}`]);
      ratios.push([`${label}: newest Effect / tsexec (${where})`, report.target(`script ${shape}: tsexec vs newest Effect (${where})`, ratioOf(r, "effect", "tsexec"), { op: ">=", value: 4 })]);
    }
  }

  for (const shape of ["all-bare", "all-mapped", "mapPar-mapped"]) {
    const r = measure(shape, 100_000, reps, rounds, ["tsexec", "promise", "effect"], true);
    rows.push([`${shape}, 100,000 tasks`, formatMs(median(r.tsexec)), `Promise.all ${formatMs(median(r.promise))}, Effect ${formatMs(median(r.effect))}`]);
    const target = shape === "all-mapped";
    const vsEffect = ratioOf(r, "effect", "tsexec");
    const vsPromise = ratioOf(r, "tsexec", "promise");
    ratios.push([`${shape}: newest Effect / tsexec`, target ? report.target(`script all-mapped: tsexec vs newest Effect`, vsEffect, { op: ">=", value: 4 }) : `${vsEffect.toFixed(2)}x`]);
    ratios.push([`${shape}: tsexec / Promise.all`, target ? report.target(`script all-mapped: tsexec / Promise.all`, vsPromise, { op: "<=", value: 1.5 }) : `${vsPromise.toFixed(2)}x`]);
  }

  {
    const r = measure("exec", 50, quick ? 2 : 5, rounds, ["tsexec", "spawn"], true);
    rows.push(["lib.all of 50 lib.exec(\"true\")", formatMs(median(r.tsexec)), `spawn by hand ${formatMs(median(r.spawn))}`]);
    ratios.push(["lib.all of lib.exec steps / Promise.all over spawn", `${ratioOf(r, "tsexec", "spawn").toFixed(2)}x`]);
  }

  for (const shape of ["dlopen-fresh", "dlopen-rerun"]) {
    const r = measure(shape, 1_000_000, reps, rounds, ["tsexec", "koffi"], false);
    rows.push([`${shape}, 10^6 calls of abs(int)`, `${median(r.tsexec).toFixed(1)} ns/call`, `bare koffi ${median(r.koffi).toFixed(1)} ns/call`]);
    const ratio = ratioOf(r, "tsexec", "koffi");
    ratios.push([`${shape}: tsexec / bare koffi for loop`, shape === "dlopen-fresh" ? report.target("script dlopen fresh IO per call / bare koffi", ratio, { op: "<=", value: 2 }) : `${ratio.toFixed(2)}x`]);
  }

  report.table(`scripts run by tsexec, ${rounds} round(s) x ${reps} runs (median), 5 warm-ups per engine`, ["shape", "tsexec", "peers"], rows);
  report.table("script ratios (median of per-round ratios)", ["ratio", "measured"], ratios);
}
