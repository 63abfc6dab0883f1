/**
 * fetchgit's repository lock as the real fetches meet it (every state of the
 * lock itself: test/runtime/file-lock.test.ts). No fixed sleeps: tests wait
 * for states by polling.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { toolFixture, type ToolFixture } from "./fixtures.js";
import { session, until } from "./support.js";
import { repositoryPaths } from "../../src/builtins/fetchgit/cache.js";
import { unreadableGraceMs } from "../../src/base/file-lock.js";

let fixture: ToolFixture;
beforeAll(() => {
  fixture = toolFixture();
});

const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const deadPid = () => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

describe("fetching with a lock in the way", () => {
  test("an empty lock (left by a crash or a disk error) is taken over after the grace period, by the real binary, silently", async () => {
    const cacheDir = tempDir("cache-");
    const paths = repositoryPaths(cacheDir, fixture.fileUrl);
    mkdirSync(paths.root, { recursive: true });
    writeFileSync(paths.lock, "");
    const old = (Date.now() - unreadableGraceMs - 1000) / 1000;
    utimesSync(paths.lock, old, old);
    const script = join(writeTree({ "p.ts": `export default ({ args, lib }: any) => lib.map(console.log, lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n` }), "p.ts");
    const out = await runTsexec([script, fixture.fileUrl, fixture.commits.first], { cacheDir, timeoutMs: 20_000 });
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(join(paths.checkouts, fixture.commits.first));
    expect(existsSync(paths.lock)).toBe(false);
  });

  test("a live owner in another pid namespace is waited for, and the wait is reported naming it (without -v)", async () => {
    const s = session();
    const paths = repositoryPaths(s.cacheDir, fixture.fileUrl);
    mkdirSync(paths.root, { recursive: true });
    const pid = deadPid();
    writeFileSync(paths.lock, JSON.stringify({ pid, host: hostname(), boot: bootId, pidns: "pid:[1]", since: Date.UTC(2026, 0, 1, 12, 34, 56) }));
    let settled = false;
    const fetching = s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first }).finally(() => (settled = true));
    await until(() => s.logs.some((l) => l.includes("waiting for the repository")));
    expect(s.logs).toEqual([
      `waiting for the repository ${fixture.fileUrl}: the lock ${paths.lock} is held by pid ${pid} on host ${hostname()} in pid namespace pid:[1] since 2026-01-01 12:34:56 UTC ` +
        `(its owner is in another pid namespace, pid:[1], where its pid cannot be checked); if that process is not running, remove the lock file`,
    ]);
    expect(settled).toBe(false);
    expect(existsSync(paths.lock)).toBe(true);
    rmSync(paths.lock);
    await fetching;
  });
});
