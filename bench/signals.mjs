// SIGINT to exit: tsexec runs 10 children (`sleep 100`, which exits on
// SIGTERM) through lib.all; once all ten run, SIGINT is sent to tsexec alone
// and the time until tsexec has exited (its finalizers run, every child
// reaped) is measured. TSEXEC_BENCH_ALSO=dir1,dir2 adds other built checkouts.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatMs, median, projectRoot, removeDir, tempDir } from "./lib/measure.mjs";

const others = (process.env.TSEXEC_BENCH_ALSO ?? "").split(",").filter(Boolean);

/** How many `sleep` processes are children of `pid`. */
function sleepingChildren(pid) {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      if (stat.includes("(sleep)") && Number(stat.split(") ")[1].split(" ")[1]) === pid) count++;
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

async function once(root, script, cacheDir) {
  const child = spawn(process.execPath, [join(root, "shebang", "tsexec"), script], {
    stdio: "ignore",
    env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir },
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (sleepingChildren(child.pid) < 10) {
    if (Date.now() > deadline) throw new Error("the ten children never all ran");
    await new Promise((r) => setTimeout(r, 10));
  }
  const started = process.hrtime.bigint();
  child.kill("SIGINT");
  const code = await exited;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (code !== 130) throw new Error(`tsexec exited with ${code} after SIGINT, not 130`);
  return ms;
}

export async function run(report) {
  const dir = tempDir();
  const script = join(dir, "ten.ts");
  writeFileSync(script, "export default ({ lib }: any) => lib.all(Array.from({ length: 10 }, () => lib.$`sleep 100`));\n");
  const roots = [projectRoot, ...others];
  const samples = Object.fromEntries(roots.map((r) => [r, []]));
  try {
    const rounds = report.quick ? 3 : 7;
    for (let round = -1; round < rounds; round++) {
      for (const root of round % 2 === 0 ? roots : [...roots].reverse()) {
        const ms = await once(root, script, join(dir, "cache"));
        if (round >= 0) samples[root].push(ms);
      }
    }
  } finally {
    removeDir(dir);
  }
  report.table(
    "SIGINT to exit with 10 children that exit on SIGTERM (median)",
    ["checkout", "SIGINT to exit", "target"],
    roots.map((root) => {
      const ms = median(samples[root]);
      // The summary records the figure as a ratio to nothing: the unit here is ms.
      if (root === projectRoot) report.target("signals: SIGINT to exit (ms, not a ratio)", ms, { op: "<=", value: 100 });
      return [root, formatMs(ms), root === projectRoot ? `<= 100 ms: ${ms <= 100 ? "ok" : "MISSED"}` : "-"];
    }),
  );
}
