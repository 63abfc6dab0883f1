/** End-to-end: the real tsexec binary running scripts that use fetchgit and lib.import. */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { launcher, runTsexec, tempDir, writeTree } from "../helpers.js";
import { pathToFileURL } from "node:url";
import { toolFixture, WorkRepo, type ToolFixture } from "./fixtures.js";
import { startGitHttpServer, type GitHttpServer } from "./http-server.js";
import { repositoryPaths } from "../../src/builtins/fetchgit/cache.js";
import { removeTree } from "../../src/base/files.js";

let fixture: ToolFixture;
let scripts: string;

/** fetch.ts URL REV: fetches, imports the tool's entry point, runs it with lib. */
const fetchAndRun = `
export default ({ args, lib }: any) =>
  lib.bind(lib.builtins.fetchgit({ url: args[1], ...(args[2] ? { rev: args[2] } : {}) }), (dir: string) =>
    lib.bind(lib.import(dir + "/tool.ts"), (tool: any) =>
      lib.bind(lib.io(() => console.log("checkout " + dir)), () => tool({ args: ["tool", "x"], lib }))));
`;

beforeAll(() => {
  fixture = toolFixture();
  scripts = writeTree({
    "fetch.ts": fetchAndRun,
    "path.ts": `export default ({ args, lib }: any) => lib.map(console.log, lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n`,
  });
});

describe("fetchgit from the command line", () => {
  test("a pinned rev runs silently; the imported tool runs with lib", async () => {
    const out = await runTsexec([join(scripts, "fetch.ts"), fixture.fileUrl, fixture.commits.first]);
    expect(out.stderr).toBe("");
    expect(out.stdout).toMatch(new RegExp(`checkout .*/checkouts/${fixture.commits.first}\\ntool first \\["tool","x"\\]\\n$`));
    expect(out.code).toBe(0);
  });

  test("an unpinned rev prints exactly one warning line naming the commit", async () => {
    const out = await runTsexec([join(scripts, "fetch.ts"), fixture.fileUrl, "v1"]);
    expect(out.code).toBe(0);
    expect(out.stderr).toBe(
      `tsexec: warning: fetchgit: 'v1' of ${fixture.fileUrl} is not pinned; it resolved to commit ${fixture.commits.first} (use rev: "${fixture.commits.first}" to pin it)\n`,
    );
  });

  test("--offline and TSEXEC_OFFLINE=1 answer from the cache only", async () => {
    const cacheDir = tempDir("cache-");
    const missing = await runTsexec(["--offline", join(scripts, "fetch.ts"), fixture.fileUrl, fixture.commits.first], { cacheDir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: fetchgit: offline .*'[0-9a-f]{40}' of file:.* is not in the cache/);
    expect((await runTsexec([join(scripts, "fetch.ts"), fixture.fileUrl, fixture.commits.first], { cacheDir })).code).toBe(0);
    const env = await runTsexec([join(scripts, "fetch.ts"), fixture.fileUrl, fixture.commits.first], { cacheDir, env: { TSEXEC_OFFLINE: "1" } });
    expect(env.code).toBe(0);
    const unpinned = await runTsexec([join(scripts, "fetch.ts"), fixture.fileUrl, "main"], { cacheDir, env: { TSEXEC_OFFLINE: "1" } });
    expect(unpinned.code).toBe(1);
    expect(unpinned.stderr).toContain(`'main' of ${fixture.fileUrl} is not in the cache`);
  });

  test("a refused URL is a one-line error naming it, exit 1", async () => {
    const out = await runTsexec([join(scripts, "fetch.ts"), "ext::sh -c id", "main"]);
    expect(out.code).toBe(1);
    expect(out.stderr.split("\n")[0]).toMatch(/^error: fetchgit: refusing URL 'ext::sh -c id'/);
  });
});

describe("several processes and killed processes", () => {
  let server: GitHttpServer;
  let slow: GitHttpServer;
  beforeAll(async () => {
    server = await startGitHttpServer(fixture.root, { delayMs: 150 });
    slow = await startGitHttpServer(fixture.root, { delayMs: 1500 });
  });
  afterAll(async () => {
    await server.close();
    await slow.close();
  });

  const fetchRequests = (requests: string[]) => requests.filter((r) => r.includes("upload-pack")).length;

  test("six processes fetching one URL and rev at once do the network work once and all succeed", async () => {
    const url = `${server.url}/tool.git`;
    await runTsexec([join(scripts, "fetch.ts"), url, fixture.commits.dev]);
    const single = fetchRequests(server.requests);
    server.requests.length = 0;
    const cacheDir = tempDir("cache-");
    const outs = await Promise.all(Array.from({ length: 6 }, () => runTsexec([join(scripts, "fetch.ts"), url, fixture.commits.dev], { cacheDir })));
    for (const out of outs) {
      expect(out.stderr).toBe("");
      expect(out.code).toBe(0);
    }
    expect(new Set(outs.map((o) => o.stdout)).size).toBe(1);
    expect(fetchRequests(server.requests)).toBe(single);
    const paths = repositoryPaths(cacheDir, url);
    expect(readdirSync(paths.checkouts)).toEqual([fixture.commits.dev]);
    expect(existsSync(paths.lock)).toBe(false);
  });

  test("a fetch killed with SIGKILL while assembling its checkout leaves a temporary directory that the next fetch removes", async () => {
    // Many files: extraction takes long enough to be caught in the act.
    const big = WorkRepo.create();
    const files: Record<string, string> = {};
    for (let i = 0; i < 4000; i++) files[`d${i % 40}/f${i}.txt`] = `file ${i}\n`.repeat(50);
    const commit = big.commit("big", files);
    const url = pathToFileURL(big.publish(tempDir("big-root-"), "big")).href;
    const cacheDir = tempDir("cache-");
    const paths = repositoryPaths(cacheDir, url);
    let caught = false;
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      const child = spawn(process.execPath, [launcher, join(scripts, "path.ts"), url, commit], {
        env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir },
        stdio: "ignore",
      });
      const closed = new Promise((r) => child.on("close", r));
      let exited = false;
      void closed.then(() => (exited = true));
      while (!exited) {
        if (existsSync(paths.checkouts) && readdirSync(paths.checkouts).some((n) => n.startsWith(".tmp-"))) {
          child.kill("SIGKILL");
          caught = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await closed;
      if (!caught) removeTree(paths.root);
    }
    expect(caught).toBe(true);
    expect(readdirSync(paths.checkouts).filter((n) => n.startsWith(".tmp-")).length).toBeGreaterThan(0);
    expect(existsSync(join(paths.checkouts, commit))).toBe(false);
    const retry = await runTsexec([join(scripts, "path.ts"), url, commit], { cacheDir });
    expect(retry.code).toBe(0);
    expect(readdirSync(paths.checkouts)).toEqual([commit]);
  });

  test("a fetch killed with SIGKILL leaves no entry taken as complete; the next run succeeds and clears up", async () => {
    const url = `${slow.url}/tool.git`;
    const cacheDir = tempDir("cache-");
    const child = spawn(process.execPath, [launcher, join(scripts, "fetch.ts"), url, fixture.commits.main], {
      env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir },
      stdio: "ignore",
    });
    const paths = repositoryPaths(cacheDir, url);
    for (let i = 0; i < 200 && !existsSync(paths.lock); i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(paths.lock)).toBe(true);
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    expect(existsSync(join(paths.checkouts, fixture.commits.main))).toBe(false);
    // The next run takes over the dead process's lock.
    const retry = await runTsexec([join(scripts, "fetch.ts"), url, fixture.commits.main], { cacheDir });
    expect(retry.stderr).toBe("");
    expect(retry.code).toBe(0);
    expect(readdirSync(paths.checkouts)).toEqual([fixture.commits.main]);
    expect(readdirSync(paths.root).filter((n) => n.startsWith("lock"))).toEqual([]);
  });
});
