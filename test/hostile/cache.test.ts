/**
 * A damaged transpile cache repairs itself: each kind of damage to a cache
 * file is reported in one warning line naming the file, the entry is rebuilt,
 * and the script runs, on the first run after the damage. Runs killed while
 * transpiling leave temporary files that the next transpiling run sweeps.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { launcher, runTsexec, tempDir, writeTree } from "../helpers.js";

/** main.ts imports dep.ts; prints 7. */
function project(): { dir: string; cacheDir: string; scripts: string; run: () => ReturnType<typeof runTsexec> } {
  const dir = writeTree({
    "main.ts": `import { v } from "./dep.ts";\nexport default ({ lib }: any) => lib.io(() => console.log(v));\n`,
    "dep.ts": `export const v: number = 7;\n`,
  });
  const cacheDir = tempDir("cache-");
  return { dir, cacheDir, scripts: join(cacheDir, "scripts"), run: () => runTsexec([join(dir, "main.ts")], { cacheDir }) };
}

const named = (scripts: string, suffix: string) => join(scripts, readdirSync(scripts).find((name) => name.endsWith(suffix))!);
const warning = (file: string, why: string, entry: string) =>
  `tsexec: warning: the cache file ${file} is damaged (${why}): removed; transpiling ${entry} again\n`;

describe("each damaged cache file is reported once, rebuilt, and the script runs", () => {
  const cases: [string, (scripts: string) => { file: string; why: string }][] = [
    [
      "a truncated output of the entry",
      (scripts) => {
        const file = named(scripts, "-main.mjs");
        const size = statSync(file).size;
        truncateSync(file, 20);
        return { file, why: `it has 20 bytes where ${size} were written` };
      },
    ],
    [
      "an emptied output of the entry",
      (scripts) => {
        const file = named(scripts, "-main.mjs");
        const size = statSync(file).size;
        writeFileSync(file, "");
        return { file, why: `it has 0 bytes where ${size} were written` };
      },
    ],
    [
      "a deleted output of an imported module",
      (scripts) => {
        const file = named(scripts, "-dep.mjs");
        unlinkSync(file);
        return { file, why: "it is missing" };
      },
    ],
    [
      "an output of the same size that does not parse",
      (scripts) => {
        const file = named(scripts, "-dep.mjs");
        writeFileSync(file, "(".repeat(statSync(file).size));
        return { file, why: "it does not parse" };
      },
    ],
    [
      "a manifest of the wrong shape",
      (scripts) => {
        const file = named(scripts, ".json");
        const manifest = JSON.parse(readFileSync(file, "utf8"));
        writeFileSync(file, JSON.stringify({ ...manifest, sources: {} }));
        return { file, why: "it is not a manifest tsexec writes" };
      },
    ],
    [
      "a manifest whose output points outside the cache",
      (scripts) => {
        const file = named(scripts, ".json");
        const manifest = JSON.parse(readFileSync(file, "utf8"));
        writeFileSync(file, JSON.stringify({ ...manifest, output: "/etc/passwd", outputs: [["/etc/passwd", 1]] }));
        return { file, why: "it is not a manifest tsexec writes" };
      },
    ],
    [
      "a manifest of garbage",
      (scripts) => {
        const file = named(scripts, ".json");
        writeFileSync(file, "{\u001b[2J garbage");
        return { file, why: "it is not valid JSON" };
      },
    ],
  ];
  for (const [what, damage] of cases) {
    test(what, async () => {
      const { dir, scripts, run } = project();
      expect((await run()).stdout).toBe("7\n");
      const { file, why } = damage(scripts);
      const repaired = await run();
      expect(repaired.stderr).toBe(warning(file, why, join(dir, "main.ts")));
      expect(repaired.stdout).toBe("7\n");
      expect(repaired.code).toBe(0);
      const after = await run();
      expect(after).toMatchObject({ code: 0, stdout: "7\n", stderr: "" });
    });
  }

  test("a manifest from before outputs were recorded is rewritten without a warning", async () => {
    const { scripts, run } = project();
    await run();
    const file = named(scripts, ".json");
    const { outputs: _, ...earlier } = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify(earlier));
    expect(await run()).toMatchObject({ code: 0, stdout: "7\n", stderr: "" });
    expect(JSON.parse(readFileSync(file, "utf8")).outputs).toHaveLength(2);
  });
});

/** Starts a cold run and SIGKILLs it after `delayMs`. */
function killedRun(args: string[], cacheDir: string, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [launcher, ...args], { env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir }, stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test("runs SIGKILLed while transpiling leave nothing the next run trips on, and it sweeps their temporary files", async () => {
  const files: Record<string, string> = { "main.ts": `import { v } from "./m0.ts";\nexport default ({ lib }: any) => lib.io(() => console.log(v));\n` };
  // Big modules: the killed runs are often caught writing one.
  const pad = `export const pad = "${"x".repeat(20_000)}";\n`;
  for (let i = 0; i < 30; i++) files[`m${i}.ts`] = pad + (i < 29 ? `export { v } from "./m${i + 1}.ts";\n` : `export const v: number = 30;\n`);
  const dir = writeTree(files);
  const cacheDir = tempDir("cache-");
  const main = join(dir, "main.ts");
  // How long a cold run takes here (the first is the slowest): the kills land while the later ones transpile and write.
  const started = Date.now();
  expect((await runTsexec([main], { cacheDir })).stdout).toBe("30\n");
  const coldMs = Date.now() - started;
  let time = Date.now() / 1000;
  for (let i = 0; i < 20; i++) {
    // A new mtime: every run is a cold one, transpiling and writing the whole graph.
    utimesSync(main, ++time, time);
    await killedRun([main], cacheDir, Math.floor(coldMs * (0.15 + 0.6 * Math.random())));
    if (i % 5 === 4) {
      const out = await runTsexec([main], { cacheDir }); // never trips on what the killed runs left
      expect(out).toMatchObject({ code: 0, stdout: "30\n", stderr: "" });
    }
  }
  // Temporary files as a killed writer leaves them (pids that are not running), and one of a live process.
  const scripts = join(cacheDir, "scripts");
  const deadPid = 2 ** 22 + 17; // above pid_max's default ceiling: never a live process
  writeFileSync(join(scripts, `a-m1.mjs.${deadPid}-lx2a-0-abc123.tmp`), "half");
  writeFileSync(join(scripts, `b.json.${deadPid}-lx2a-3-zz9.tmp`), "{");
  const live = `c-m2.mjs.${process.pid}-lx2a-1-def456.tmp`;
  writeFileSync(join(scripts, live), "in progress");
  utimesSync(main, ++time, time);
  const out = await runTsexec([main], { cacheDir });
  expect(out).toMatchObject({ code: 0, stdout: "30\n", stderr: "" });
  expect(readdirSync(scripts).filter((name) => name.endsWith(".tmp"))).toEqual([live]);
}, 60_000);
