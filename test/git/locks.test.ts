/**
 * fetchgit's repository lock in each state it can be found in: live owner,
 * dead owner, reused pid, another host, another boot, another pid namespace,
 * no readable owner (missing, empty, truncated). No fixed sleeps: tests wait
 * for states by polling.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { toolFixture, type ToolFixture } from "./fixtures.js";
import { session, until } from "./support.js";
import { acquireLock, readOwner, repositoryPaths, staleReason, unreadableLockGraceMs, type LockOwner } from "../../src/builtins/fetchgit/cache.js";
import { processStart } from "../../src/runtime/processes.js";

let fixture: ToolFixture;
beforeAll(() => {
  fixture = toolFixture();
});

const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const pidNamespace = readlinkSync("/proc/self/ns/pid");
const deadPid = () => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

function lockWith(owner: Partial<LockOwner> | string, ageMs = 0): string {
  const lock = join(tempDir("lock-"), "lock");
  mkdirSync(lock);
  writeFileSync(join(lock, "owner.json"), typeof owner === "string" ? owner : JSON.stringify({ id: "x", host: hostname(), since: 0, ...owner }));
  const when = (Date.now() - ageMs) / 1000;
  utimesSync(lock, when, when);
  return lock;
}

describe("staleReason: when a lock may be taken over", () => {
  test("a live owner (this process, same start, boot and namespace) is not stale", () => {
    expect(staleReason(lockWith({ pid: process.pid, start: processStart(process.pid), bootId, pidNamespace }))).toBeUndefined();
  });
  test("a dead owner is stale", () => {
    const pid = deadPid();
    expect(staleReason(lockWith({ pid, bootId, pidNamespace }))).toBe(`its owner, pid ${pid}, is gone`);
  });
  test("a reused pid (another start time) is stale", () => {
    expect(staleReason(lockWith({ pid: process.pid, start: "1", pidNamespace }))).toMatch(/now belongs to another process/);
  });
  test("an owner on another host is never judged by its pid", () => {
    expect(staleReason(lockWith({ pid: deadPid(), host: "elsewhere.example" }))).toBeUndefined();
  });
  test("an owner in another pid namespace is never judged by its pid", () => {
    expect(staleReason(lockWith({ pid: deadPid(), bootId, pidNamespace: "pid:[1]" }))).toBeUndefined();
  });
  test("an owner from an earlier boot of this host is stale, whatever its pid", () => {
    expect(staleReason(lockWith({ pid: process.pid, bootId: "00000000-0000-0000-0000-000000000000", pidNamespace }))).toMatch(/restarted/);
  });
  test.each([
    ["empty", ""],
    ["truncated", '{"id":"x","pid":1'],
    ["the wrong shape", '{"pid":"one"}'],
    ["not JSON", "\u0000\u0001"],
  ])("an owner.json that is %s is stale only after the grace period", (_what, text) => {
    expect(staleReason(lockWith(text))).toBeUndefined();
    expect(staleReason(lockWith(text, unreadableLockGraceMs + 1000))).toBe("its owner.json is missing or unreadable");
  });
  test("a lock directory without owner.json: the same grace", () => {
    const lock = lockWith("", unreadableLockGraceMs + 1000);
    rmSync(join(lock, "owner.json"));
    expect(staleReason(lock)).toBeUndefined(); // removing the file just touched the directory
    const old = (Date.now() - unreadableLockGraceMs - 1000) / 1000;
    utimesSync(lock, old, old);
    expect(staleReason(lock)).toBe("its owner.json is missing or unreadable");
    expect(readOwner(lock)).toBeUndefined();
  });
});

describe("fetching with a lock in the way", () => {
  test("an empty owner.json (a crash while writing it) is taken over after the grace period, by the real binary, silently", async () => {
    const cacheDir = tempDir("cache-");
    const paths = repositoryPaths(cacheDir, fixture.fileUrl);
    mkdirSync(paths.lock, { recursive: true });
    writeFileSync(join(paths.lock, "owner.json"), "");
    const script = join(writeTree({ "p.ts": `export default ({ args, lib }: any) => lib.map(console.log, lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n` }), "p.ts");
    const out = await runTsexec([script, fixture.fileUrl, fixture.commits.first], { cacheDir, timeoutMs: 20_000 });
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(join(paths.checkouts, fixture.commits.first));
    expect(existsSync(paths.lock)).toBe(false);
  });

  test("a live owner in another pid namespace is waited for, and the wait is reported naming it (without -v)", async () => {
    const s = session();
    const paths = repositoryPaths(s.cacheDir, fixture.fileUrl);
    mkdirSync(paths.lock, { recursive: true });
    writeFileSync(join(paths.lock, "owner.json"), JSON.stringify({ id: "ns", pid: deadPid(), host: hostname(), bootId, pidNamespace: "pid:[1]", since: Date.UTC(2026, 0, 1, 12, 34, 56) }));
    let settled = false;
    const fetching = s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first }).finally(() => (settled = true));
    await until(() => s.logs.some((l) => l.includes("waiting for the lock")));
    expect(s.logs).toEqual([`waiting for the lock on ${fixture.fileUrl}: held by pid ${readOwner(paths.lock)!.pid} on host ${hostname()} since 12:34:56 UTC (${paths.lock})`]);
    expect(settled).toBe(false);
    expect(existsSync(paths.lock)).toBe(true);
    rmSync(paths.lock, { recursive: true });
    await fetching;
  });
});

describe("reporting a long wait", () => {
  test("one line naming the owner, then how long so far, at the intervals given", async () => {
    const root = tempDir("lock-report-");
    const paths = repositoryPaths(root, "file:///x");
    mkdirSync(paths.lock, { recursive: true });
    writeFileSync(join(paths.lock, "owner.json"), JSON.stringify({ id: "live", pid: process.pid, host: hostname(), since: 0 }));
    const lines: string[] = [];
    const taking = acquireLock(paths, "file:///x", { report: (line) => lines.push(line), reportAfterMs: 20, reportEveryMs: 60 });
    await until(() => lines.length >= 3);
    expect(lines[0]).toBe(`waiting for the lock on file:///x: held by pid ${process.pid} on host ${hostname()} since 00:00:00 UTC (${paths.lock})`);
    expect(lines[1]).toMatch(new RegExp(`^still waiting for the lock on file:///x \\(\\d+ s so far\\), held by pid ${process.pid} on host `));
    rmSync(paths.lock, { recursive: true });
    const release = await taking;
    expect(readOwner(paths.lock)?.pid).toBe(process.pid);
    release();
    expect(existsSync(paths.lock)).toBe(false);
  });

  test("a lock that is never released times out with one error naming the owner and the lock", async () => {
    const root = tempDir("lock-timeout-");
    const paths = repositoryPaths(root, "file:///x");
    mkdirSync(paths.lock, { recursive: true });
    writeFileSync(join(paths.lock, "owner.json"), JSON.stringify({ id: "live", pid: process.pid, host: hostname(), since: 0 }));
    await expect(acquireLock(paths, "file:///x", { timeoutMs: 50 })).rejects.toThrow(
      new RegExp(`^fetchgit: timed out after \\d+ s waiting for the lock on file:///x, held by pid ${process.pid} on host .*; if that process is not fetching it, remove ${paths.lock.replace(/[.]/g, "\\.")}$`),
    );
  });
});
