// Exit latency: how soon tsexec is done once it is told to stop.
//
// - SIGINT to exit: tsexec runs children through lib.all; once all of them run,
//   SIGINT is sent to tsexec alone and the time until tsexec has exited (its
//   finalizers run, every child gone) is measured. Shapes: 10 `sleep 100` (exit on
//   SIGTERM); `sh -c 'sleep 600 & sleep 600'` (a shell whose grandchildren are
//   orphaned when it dies); a shell ignoring SIGTERM (stopped by SIGKILL after
//   --kill-grace 0.5: the target is the grace period + 100 ms).
// - lib.timeout to the next step: the same shell shapes under `lib.timeout(300, …)`;
//   the script itself measures from the start of the timeout step to the start of
//   the next step, less the 300 ms (less the grace period for the stubborn shape).
// TSEXEC_BENCH_ALSO=dir1,dir2 adds other built checkouts.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatMs, median, projectRoot, removeDir, tempDir } from "./lib/measure.mjs";

const others = (process.env.TSEXEC_BENCH_ALSO ?? "").split(",").filter(Boolean);
const graceSeconds = 0.5;

/** How many `sleep` processes run below `root` (zombies left out). */
function sleepingBelow(root) {
  const parentOf = new Map();
  const sleeping = new Set();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      parentOf.set(Number(entry), Number(fields[1]));
      if (stat.includes("(sleep)")) sleeping.add(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  let count = 0;
  for (const pid of sleeping) {
    for (let at = parentOf.get(pid); at !== undefined; at = parentOf.get(at)) {
      if (at === root) {
        count++;
        break;
      }
    }
  }
  return count;
}

const shellBoth = `lib.$\`sh -c \${"sleep 600 & sleep 600"}\``;
const shellStubborn = `lib.$\`sh -c \${'trap "" TERM; sleep 600 & sleep 600; wait'}\``;

const signalShapes = [
  { name: "10 children that exit on SIGTERM", sleeps: 10, graceMs: 0, program: `lib.all(Array.from({ length: 10 }, () => lib.$\`sleep 100\`))` },
  { name: "sh -c 'sleep 600 & sleep 600'", sleeps: 2, graceMs: 0, program: shellBoth },
  { name: `a shell ignoring SIGTERM (grace ${graceSeconds} s)`, sleeps: 2, graceMs: graceSeconds * 1000, program: shellStubborn },
];

const timeoutShapes = [
  { name: "sh -c 'sleep 600 & sleep 600'", graceMs: 0, program: shellBoth },
  { name: `a shell ignoring SIGTERM (grace ${graceSeconds} s)`, graceMs: graceSeconds * 1000, program: shellStubborn },
];

function tsexec(root, script, cacheDir, stdio) {
  return spawn(process.execPath, [join(root, "shebang", "tsexec"), "--kill-grace", String(graceSeconds), script], {
    stdio,
    env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir },
  });
}

async function signalOnce(root, shape, script, cacheDir) {
  const child = tsexec(root, script, cacheDir, "ignore");
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (sleepingBelow(child.pid) < shape.sleeps) {
    if (Date.now() > deadline) throw new Error(`${shape.name}: the children never all ran`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const started = process.hrtime.bigint();
  child.kill("SIGINT");
  const code = await exited;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (code !== 130) throw new Error(`${shape.name}: tsexec exited with ${code} after SIGINT, not 130`);
  return ms - shape.graceMs;
}

async function timeoutOnce(root, shape, script, cacheDir) {
  const child = tsexec(root, script, cacheDir, ["ignore", "pipe", "inherit"]);
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  const late = /^late (\d+(\.\d+)?)$/m.exec(out);
  if (code !== 0 || !late) throw new Error(`${shape.name}: the timeout script exited ${code} printing ${JSON.stringify(out)}`);
  return Number(late[1]) - shape.graceMs;
}

const timeoutScript = (program) =>
  [
    `export default ({ lib }: any) => {`,
    `  let begun = 0;`,
    `  return lib.bind(lib.io(() => (begun = performance.now())), () =>`,
    `    lib.bind(lib.attempt(lib.timeout(300, ${program})), () =>`,
    `      lib.io(() => console.log("late " + (performance.now() - begun - 300).toFixed(1)))));`,
    `};`,
  ].join("\n");

export async function run(report) {
  const dir = tempDir();
  const roots = [projectRoot, ...others];
  const rounds = report.quick ? 3 : 7;
  const rows = [];
  try {
    const measure = async (kind, shape, once, script) => {
      const samples = Object.fromEntries(roots.map((r) => [r, []]));
      for (let round = -1; round < rounds; round++) {
        for (const root of round % 2 === 0 ? roots : [...roots].reverse()) {
          const ms = await once(root, shape, script, join(dir, "cache"));
          if (round >= 0) samples[root].push(ms);
        }
      }
      for (const root of roots) {
        const ms = median(samples[root]);
        const target = shape.graceMs ? `grace + <= 100 ms` : `<= 100 ms`;
        // The summary records the figure as a ratio to nothing: the unit here is ms (beyond the grace period).
        if (root === projectRoot) report.target(`signals: ${kind}, ${shape.name} (ms beyond the grace period, not a ratio)`, ms, { op: "<=", value: 100 });
        rows.push([kind, shape.name, root, `${shape.graceMs ? `grace + ` : ""}${formatMs(ms)}`, root === projectRoot ? `${target}: ${ms <= 100 ? "ok" : "MISSED"}` : "-"]);
      }
    };
    for (const [i, shape] of signalShapes.entries()) {
      const script = join(dir, `signal-${i}.ts`);
      writeFileSync(script, `export default ({ lib }: any) => ${shape.program};\n`);
      await measure("SIGINT to exit", shape, signalOnce, script);
    }
    for (const [i, shape] of timeoutShapes.entries()) {
      const script = join(dir, `timeout-${i}.ts`);
      writeFileSync(script, timeoutScript(shape.program));
      await measure("lib.timeout to the next step", shape, timeoutOnce, script);
    }
  } finally {
    removeDir(dir);
  }
  report.table("Exit latency (median)", ["what", "children", "checkout", "measured", "target"], rows);
}
