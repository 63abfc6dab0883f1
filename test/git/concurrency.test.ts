/**
 * Fetches that race (issue 13): fibers of one process, several processes, and
 * repositories that include each other as submodules. Every result is the
 * commit asked for; a resolution one process made is used by those that
 * waited for it; nothing deadlocks.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { launcher, runTsexec, tempDir, writeTree } from "../helpers.js";
import { toolFixture, WorkRepo, type ToolFixture } from "./fixtures.js";
import { startGitHttpServer, type GitHttpServer } from "./http-server.js";
import { session, until } from "./support.js";
import { repositoryPaths } from "../../src/builtins/fetchgit/cache.js";
import { fetchCheckout } from "../../src/builtins/fetchgit/checkout.js";
import { makeRequest } from "../../src/builtins/fetchgit/index.js";

let fixture: ToolFixture;
let scripts: string;
beforeAll(() => {
  fixture = toolFixture();
  scripts = writeTree({
    "path.ts": `export default ({ args, lib }: any) => lib.map(console.log, lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n`,
  });
});

describe("one process, concurrent fibers", () => {
  test("Promise.all over fetches of v1 and main (10 times, fresh caches): every result is its own commit", async () => {
    for (let round = 0; round < 10; round++) {
      const s = session();
      const [v1, main, again] = await Promise.all([
        s.fetch({ url: fixture.fileUrl, rev: "v1" }),
        s.fetch({ url: fixture.fileUrl, rev: "main" }),
        s.fetch({ url: fixture.fileUrl, rev: "v1" }),
      ]);
      expect(v1.endsWith(fixture.commits.first)).toBe(true);
      expect(again).toBe(v1);
      expect(main.endsWith(fixture.commits.main)).toBe(true);
      expect(existsSync(join(main, "main.txt"))).toBe(true);
      expect(existsSync(join(v1, "main.txt"))).toBe(false);
    }
  });

  test("pinned and moving revs of one repository at once", async () => {
    const s = session();
    const results = await Promise.all([fixture.commits.dev, "main", fixture.commits.first, "dev", "v1-light"].map((rev) => s.fetch({ url: fixture.fileUrl, rev })));
    expect(results.map((p) => p.slice(-40))).toEqual([fixture.commits.dev, fixture.commits.main, fixture.commits.first, fixture.commits.dev, fixture.commits.first]);
  });
});

describe("several processes", () => {
  test("two processes, v1 and main, on one cache (5 rounds)", async () => {
    for (let round = 0; round < 5; round++) {
      const cacheDir = tempDir("cache-");
      const [v1, main] = await Promise.all([
        runTsexec([join(scripts, "path.ts"), fixture.fileUrl, "v1"], { cacheDir }),
        runTsexec([join(scripts, "path.ts"), fixture.fileUrl, "main"], { cacheDir }),
      ]);
      expect(v1.code).toBe(0);
      expect(main.code).toBe(0);
      expect(v1.stdout.trim().endsWith(fixture.commits.first)).toBe(true);
      expect(main.stdout.trim().endsWith(fixture.commits.main)).toBe(true);
    }
  }, 30_000);

  describe("a resolution made while others waited is theirs too", () => {
    let server: GitHttpServer;
    beforeAll(async () => {
      server = await startGitHttpServer(fixture.root);
    });
    afterAll(() => server.close());

    test("8 processes, one branch: one fetch", async () => {
      const cacheDir = tempDir("cache-");
      const url = `${server.url}/tool.git`;
      // The test holds the lock until all 8 have asked and are waiting (each says so after 2 s), then lets go.
      const paths = repositoryPaths(cacheDir, url);
      mkdirSync(paths.root, { recursive: true });
      writeFileSync(paths.lock, JSON.stringify({ pid: process.pid, host: hostname(), since: Date.now() }));
      const children = Array.from({ length: 8 }, () => {
        const child = spawn(process.execPath, [launcher, join(scripts, "path.ts"), url, "dev"], {
          env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir },
          stdio: ["ignore", "pipe", "pipe"],
        });
        const out = { stdout: "", stderr: "", code: null as number | null };
        child.stdout.setEncoding("utf8").on("data", (d: string) => (out.stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (out.stderr += d));
        const closed = new Promise<void>((resolve) => child.on("close", (code) => ((out.code = code), resolve())));
        return { out, closed };
      });
      await until(() => children.every((c) => c.out.stderr.includes("waiting for the repository")), 20_000, "all 8 to wait");
      rmSync(paths.lock);
      await Promise.all(children.map((c) => c.closed));
      for (const { out } of children) {
        expect(out.code).toBe(0);
        expect(out.stdout.trim().endsWith(fixture.commits.dev)).toBe(true);
      }
      expect(server.requests.filter((r) => r.startsWith("GET /tool.git/info/refs"))).toHaveLength(1);
    }, 30_000);
  });
});

describe("submodules that include each other", () => {
  /** X@x1 plain; Y@y1 has X@x1; X@x2 has Y@y1. */
  function crossFixture() {
    const root = tempDir("cross-root-");
    const x = WorkRepo.create();
    const x1 = x.commit("x1", { "x.txt": "x1\n" });
    const xBare = x.publish(root, "x");
    const y = WorkRepo.create();
    y.stage({ "y.txt": "y1\n" });
    y.addSubmodule("x", "../x.git", x1);
    const y1 = y.commitIndex("y1");
    y.publish(root, "y");
    x.stage({ "x.txt": "x2\n" });
    x.addSubmodule("y", "../y.git", y1);
    const x2 = x.commitIndex("x2");
    x.push(xBare);
    return { root, xUrl: pathToFileURL(xBare).href, yUrl: pathToFileURL(join(root, "y.git")).href, x1, x2, y1 };
  }

  test("two processes fetching X@x2 and Y@y1 at once both finish (no lock held while fetching submodules)", async () => {
    const f = crossFixture();
    // Slow answers make both processes hold their first repository while asking for the other:
    // holding a lock across submodule fetches deadlocked here every time (until the 600 s lock timeout).
    const slow = await startGitHttpServer(f.root, { delayMs: 200 });
    try {
      for (let round = 0; round < 2; round++) {
        const cacheDir = tempDir("cache-");
        const [x, y] = await Promise.all([
          runTsexec([join(scripts, "path.ts"), `${slow.url}/x.git`, f.x2], { cacheDir, timeoutMs: 15_000 }),
          runTsexec([join(scripts, "path.ts"), `${slow.url}/y.git`, f.y1], { cacheDir, timeoutMs: 15_000 }),
        ]);
        expect([x.code, x.stderr]).toEqual([0, ""]);
        expect([y.code, y.stderr]).toEqual([0, ""]);
        expect(readFileSync(join(x.stdout.trim(), "y/x/x.txt"), "utf8")).toBe("x1\n");
        expect(readFileSync(join(y.stdout.trim(), "x/x.txt"), "utf8")).toBe("x1\n");
      }
    } finally {
      await slow.close();
    }
  }, 40_000);

  test("a submodule chain that comes back to a commit being assembled is an error naming the cycle", async () => {
    const f = crossFixture();
    const s = session();
    const request = {
      ...makeRequest({ url: f.xUrl, rev: f.x2 }, "/", s.ctx),
      parents: [`${f.xUrl} at ${f.x2}`, `${f.yUrl} at ${f.y1}`],
    };
    await expect(fetchCheckout(request)).rejects.toThrow(
      `fetchgit: submodules form a cycle: ${f.xUrl} at ${f.x2} -> ${f.yUrl} at ${f.y1} -> ${f.xUrl} at ${f.x2}`,
    );
  });
});
