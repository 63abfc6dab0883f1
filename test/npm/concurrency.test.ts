/** Installs under concurrency and SIGKILL: one install, every run succeeds, nothing partial is ever used. */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launcher, runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, packageLock, startRegistry, type Registry } from "./registry.js";

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry([
    { name: "alpha", version: "1.0.0", dependencies: { beta: "1" }, files: { "index.js": "module.exports = 'alpha+' + require('beta');\n" } },
    { name: "beta", version: "1.0.0" },
  ]);
});
afterAll(() => registry.close());

function project(): string {
  return writeTree({
    "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { alpha: "1" } }),
    "package-lock.json": packageLock(registry, { dependencies: { alpha: "1" } }, {
      "node_modules/alpha": { name: "alpha", version: "1.0.0" },
      "node_modules/beta": { name: "beta", version: "1.0.0" },
    }),
    "t.ts": `import a from "alpha";\nexport default ({ lib }: any) => lib.task(async () => console.log(a));\n`,
  });
}

/** Entries of the store directories that are not finished entries (temporary directories, locks). */
function leftovers(cacheDir: string): string[] {
  return ["trees", "packages"].flatMap((d) => readdirSync(join(cacheDir, "npm", d)).filter((n) => n.startsWith(".") || n.includes(".lock")));
}

describe("concurrent and killed installs", () => {
  it("eight processes running a never-installed script at once: one install, all succeed, no temporary directories left", async () => {
    const dir = project();
    const cacheDir = tempDir("cache-");
    registry.requests.length = 0;
    registry.delayTarballsMs = 200;
    try {
      const runs = await Promise.all(Array.from({ length: 8 }, () => runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url), cacheDir })));
      for (const run of runs) {
        // Nothing but, on a slow machine, the notice of a wait longer than 2 s for the one installer (docs/locks.md).
        expect(run.stderr).toMatch(/^(tsexec: (still )?waiting for the install of .*\n)*$/);
        expect(run.stdout).toBe("alpha+beta@1.0.0\n");
      }
    } finally {
      registry.delayTarballsMs = 0;
    }
    expect(registry.requests.sort()).toEqual(["GET /alpha/-/alpha-1.0.0.tgz", "GET /beta/-/beta-1.0.0.tgz"]);
    expect(leftovers(cacheDir)).toEqual([]);
    expect(readdirSync(join(cacheDir, "npm", "trees"))).toHaveLength(1);
  });

  it("eight processes locking the same npm: specifier at once: one valid lock, each tarball fetched once", async () => {
    const dir = writeTree({ "t.ts": `import a from "npm:alpha@^1";\nexport default ({ lib }: any) => lib.task(async () => console.log(a));\n` });
    const cacheDir = tempDir("cache-");
    registry.requests.length = 0;
    const runs = await Promise.all(Array.from({ length: 8 }, () => runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url), cacheDir })));
    for (const run of runs) expect(run.stdout).toBe("alpha+beta@1.0.0\n");
    expect(JSON.parse(readFileSync(join(dir, "tsexec.lock"), "utf8")).npm.specifiers).toEqual({ "alpha@^1": "alpha@1.0.0" });
    expect(registry.requests.filter((r) => r.endsWith(".tgz")).sort()).toEqual(["GET /alpha/-/alpha-1.0.0.tgz", "GET /beta/-/beta-1.0.0.tgz"]);
    expect(readdirSync(dir).sort()).toEqual(["t.ts", "tsexec.lock"]);
    expect(leftovers(cacheDir)).toEqual([]);
  });

  it("SIGKILL during an install: no partial entry is used, and the next run completes it", async () => {
    const dir = project();
    const cacheDir = tempDir("cache-");
    registry.requests.length = 0;
    registry.delayTarballsMs = 3000;
    const child = spawn(process.execPath, [launcher, join(dir, "t.ts")], {
      env: { ...process.env, ...npmEnv(registry.url), TSEXEC_CACHE_DIR: cacheDir },
      stdio: "ignore",
    });
    const exited = new Promise((r) => child.once("exit", r));
    try {
      // Killed while the tarballs are on their way (the install lock is held, nothing is stored yet).
      while (registry.requests.length < 2) await new Promise((r) => setTimeout(r, 20));
      child.kill("SIGKILL");
      await exited;
    } finally {
      registry.delayTarballsMs = 0;
    }
    expect(readdirSync(join(cacheDir, "npm", "trees")).some((n) => n.endsWith(".lock"))).toBe(true);
    const next = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url), cacheDir });
    expect(next.stderr).toBe("");
    expect(next.stdout).toBe("alpha+beta@1.0.0\n");
    expect(leftovers(cacheDir)).toEqual([]);
  });

  it("SIGKILL at moments spread over installs: every next run succeeds and leaves nothing behind", async () => {
    // Tarballs answer 100 ms apart from the request: kills land while downloading, storing and assembling.
    registry.delayTarballsMs = 100;
    try {
      for (const afterFirstRequestMs of [0, 50, 100, 140, 180, 240]) {
        const cacheDir = tempDir("cache-");
        const dir = project();
        registry.requests.length = 0;
        const child = spawn(process.execPath, [launcher, join(dir, "t.ts")], {
          env: { ...process.env, ...npmEnv(registry.url), TSEXEC_CACHE_DIR: cacheDir },
          stdio: "ignore",
        });
        const exited = new Promise((r) => child.once("exit", r)); // attached now: the run may finish before the kill
        while (registry.requests.length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, afterFirstRequestMs));
        child.kill("SIGKILL");
        await exited;
        const next = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url), cacheDir });
        expect(next.stderr).toBe("");
        expect(next.stdout).toBe("alpha+beta@1.0.0\n");
        expect(leftovers(cacheDir)).toEqual([]);
      }
    } finally {
      registry.delayTarballsMs = 0;
    }
  });
});
