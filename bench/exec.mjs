// lib.exec("true") 200 times in a loop, against the same loop over
// child_process.spawn awaited by hand and over zx's $`true`. Each engine runs
// in a process of its own; the engines take turns; ratios are medians of
// per-round ratios. TSEXEC_BENCH_ALSO=dir1,dir2 adds other built checkouts.
//
// Every engine runs with HOME set to an empty directory. zx runs each command
// through `bash -c`, and bash reads ~/.bashrc even when not interactive if its
// stdin is a socket, as a Node child's piped stdin is: on a machine whose
// .bashrc has no guard for non-interactive shells (the development machine
// runs `pyenv init` there) that alone made zx 121 ms per command, a figure
// about that .bashrc, not about zx. With no rc file, zx costs what bash's own
// start-up adds to a spawn.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { benchRoot, formatMs, median, pairedRatio, removeDir, tempDir } from "./lib/measure.mjs";

const worker = join(benchRoot, "lib", "exec-worker.mjs");
const others = (process.env.TSEXEC_BENCH_ALSO ?? "").split(",").filter(Boolean);
const engines = [
  { name: "tsexec", label: 'tsexec lib.exec("true")' },
  ...others.map((dir) => ({ name: `tsexec@${dir}`, label: `tsexec (${dir})` })),
  { name: "spawn", label: "child_process.spawn, awaited by hand" },
  { name: "zx", label: "zx $`true`" },
];

function spawnWorker(engine, n, reps, home) {
  const env = { ...process.env, HOME: home };
  const result = spawnSync(process.execPath, [worker, engine, String(n), String(reps)], { encoding: "utf8", cwd: benchRoot, env });
  if (result.status !== 0) throw new Error(`${engine} failed (${result.signal ?? `exit ${result.status}`}):\n${result.stderr.trim()}`);
  return JSON.parse(result.stdout.trim().split("\n").pop());
}

export async function run(report) {
  const n = 200;
  const rounds = report.quick ? 2 : 5;
  const reps = report.quick ? 2 : 3;
  const perRound = Object.fromEntries(engines.map((e) => [e.name, []]));
  const home = tempDir("tsexec-bench-home-");
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? engines : [...engines].reverse();
      for (const engine of order) perRound[engine.name].push(median(spawnWorker(engine.name, n, reps, home).ms));
    }
  } finally {
    removeDir(home);
  }
  const ratio = (a, b) => pairedRatio(perRound, a, b);
  report.table(
    `${n} runs of \`true\` in a row, ${rounds} rounds x ${reps} repetitions (median), one process per engine, HOME empty (no ~/.bashrc for zx's bash)`,
    ["engine", "time", "per run", "vs spawn"],
    engines.map((e) => [e.label, formatMs(median(perRound[e.name])), formatMs(median(perRound[e.name]) / n), `${ratio(e.name, "spawn").toFixed(2)}x`]),
  );
  report.table("exec ratios (median of per-round ratios)", ["ratio", "measured"], [
    ["tsexec / spawn by hand", report.target("exec: tsexec / spawn by hand", ratio("tsexec", "spawn"), { op: "<=", value: 1.1 })],
    ["zx / tsexec (how many times faster tsexec is)", report.target("exec: zx / tsexec", ratio("zx", "tsexec"), { op: ">=", value: 2 })],
    ...others.map((dir) => [`tsexec / ${dir}`, `${ratio("tsexec", `tsexec@${dir}`).toFixed(2)}x`]),
  ]);
}
