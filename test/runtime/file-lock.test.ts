/**
 * The one cross-process lock (src/base/file-lock.ts) in each state it can
 * be found in: free, held by a live owner, dead owner, reused pid, another
 * boot, host or pid namespace, unreadable (young and old), taken by N real
 * processes at once, retaken while being broken; and the waits: notices,
 * timeout, `done()`, the synchronous form. No fixed sleeps: states are polled.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, lutimesSync, readlinkSync, renameSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { root, tempDir, until } from "../helpers.js";
import {
  acquireLock,
  acquireLockSync,
  breakStaleLock,
  describeOwner,
  lockLeftovers,
  lockState,
  ownOwner,
  parseOwner,
  tryLock,
  unreadableGraceMs,
} from "../../src/base/file-lock.js";
import { removeLeftoversOfDeadProcesses } from "../../src/base/files.js";
import { processStart } from "../../src/base/processes.js";

const hasProc = existsSync("/proc/self/ns/pid");
const freshLock = () => join(tempDir("file-lock-"), "x.lock");
const record = (fields: Record<string, unknown>) => `${JSON.stringify({ ...ownOwner(), since: Date.now(), ...fields })}\n`;
const deadPid = () => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
const age = (path: string, ms: number) => utimesSync(path, (Date.now() - ms) / 1000, (Date.now() - ms) / 1000);
const entries = (lock: string) => readdirSync(join(lock, "..")).sort();

/** file-lock.ts bundled for plain node children (the race and the holders are real processes). */
let worker: string;
beforeAll(() => {
  const dir = tempDir("file-lock-worker-");
  buildSync({ entryPoints: [join(root, "src/base/file-lock.ts")], bundle: true, platform: "node", format: "esm", outfile: join(dir, "file-lock.mjs"), logLevel: "silent" });
  worker = join(dir, "worker.mjs");
  writeFileSync(
    worker,
    `import { acquireLockSync } from "./file-lock.mjs";
import { readFileSync, writeFileSync } from "node:fs";
const [mode, lock, counter, rounds] = process.argv.slice(2);
if (mode === "hold") {
  const release = acquireLockSync(lock, { what: "the test", log: () => {} });
  process.stdout.write("held\\n");
  const letGo = () => { release(); process.exit(0); };
  process.stdin.on("data", () => {}).on("end", letGo);
  process.on("SIGTERM", letGo);
} else {
  for (let i = 0; i < Number(rounds); i++) {
    const release = acquireLockSync(lock, { what: "the counter", log: () => {} });
    writeFileSync(counter, String(Number(readFileSync(counter, "utf8")) + 1));
    release();
  }
}
`,
  );
});

/** A real process holding `lock` until its stdin closes or it gets SIGTERM (then it releases the lock). */
async function holder(lock: string): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(process.execPath, [worker, "hold", lock]);
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  await until(() => out.includes("held"), "the holder to take the lock");
  return child;
}

const exited = (child: ChildProcessWithoutNullStreams) => new Promise((resolve) => child.on("exit", resolve));

describe("taking a lock", () => {
  it("free: taken with the owner's record (pid, start, host, boot, pid namespace, since), released without a trace", () => {
    const lock = freshLock();
    const release = tryLock(lock);
    expect(release).toBeTypeOf("function");
    const owner = JSON.parse(readFileSync(lock, "utf8"));
    expect(owner).toMatchObject({ pid: process.pid, host: hostname() });
    expect(typeof owner.since).toBe("number");
    if (hasProc) {
      expect(owner).toMatchObject({ pidns: readlinkSync("/proc/self/ns/pid"), start: processStart(process.pid) });
      expect(owner.boot).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    }
    expect(tryLock(lock)).toBeUndefined();
    expect(entries(lock)).toEqual(["x.lock"]);
    release!();
    expect(entries(lock)).toEqual([]);
  });

  it("held by a live process: waited for, never broken", async () => {
    const lock = freshLock();
    const child = await holder(lock);
    try {
      expect(lockState(lock)).toMatchObject({ kind: "held", why: "its owner is running", owner: { pid: child.pid } });
      expect(tryLock(lock)).toBeUndefined();
    } finally {
      child.stdin.end();
      await exited(child);
    }
    expect(entries(lock)).toEqual([]);
  });

  it("held by a process killed with SIGKILL: stale, and taken", async () => {
    const lock = freshLock();
    const child = await holder(lock);
    child.kill("SIGKILL");
    await exited(child);
    expect(lockState(lock)).toMatchObject({ kind: "stale", why: `its owner, pid ${child.pid}, is gone` });
    tryLock(lock)!();
    expect(entries(lock)).toEqual([]);
  });

  it.runIf(hasProc)("held by a process that exited but is not reaped yet (a zombie of ours): stale", () => {
    // The synchronous wait blocks the event loop that would reap the child: its pid stays a zombie,
    // which kill(pid, 0) still finds. Waiting on it as if it ran would never end.
    const lock = freshLock();
    const child = spawn("sh", ["-c", "exit 0"]);
    const pid = child.pid!;
    writeFileSync(lock, record({ pid, start: processStart(pid) }));
    const deadline = Date.now() + 5000;
    const state = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    while (state() !== "Z" && Date.now() < deadline);
    expect(state()).toBe("Z");
    expect(lockState(lock)).toMatchObject({ kind: "stale", why: `its owner, pid ${pid}, is gone` });
    const release = acquireLockSync(lock, { what: "x", log: () => {} });
    expect(parseOwner(readFileSync(lock, "utf8"))?.pid).toBe(process.pid);
    release();
  });

  it("a pid now another process (start time differs), or an owner from an earlier boot: stale", () => {
    const lock = freshLock();
    if (hasProc) {
      writeFileSync(lock, record({ start: "1" }));
      expect(lockState(lock)).toMatchObject({ kind: "stale", why: `pid ${process.pid} is now another process` });
      tryLock(lock)!();
      writeFileSync(lock, record({ boot: "00000000-0000-0000-0000-000000000000" }));
      expect(lockState(lock)).toMatchObject({ kind: "stale", why: "its owner ran before this machine booted" });
      tryLock(lock)!();
    }
    writeFileSync(lock, "2147483646 12345\n"); // the build lock's format of earlier versions
    expect(parseOwner(readFileSync(lock, "utf8"))).toEqual({ pid: 2147483646, start: "12345" });
    tryLock(lock)!();
    expect(entries(lock)).toEqual([]);
  });

  it("an owner in another pid namespace or on another host is never judged by its pid", () => {
    const lock = freshLock();
    const pid = deadPid();
    writeFileSync(lock, record({ pid, pidns: "pid:[1]" }));
    expect(lockState(lock)).toMatchObject({ kind: "held", why: "its owner is in another pid namespace, pid:[1], where its pid cannot be checked" });
    expect(tryLock(lock)).toBeUndefined();
    writeFileSync(lock, record({ pid, host: "elsewhere.example" }));
    expect(lockState(lock)).toMatchObject({ kind: "held", why: "its owner is on another host, elsewhere.example" });
    expect(tryLock(lock)).toBeUndefined();
  });

  it("a crafted record is shown printable and short, and its fields are checked for their types", () => {
    const owner = parseOwner(JSON.stringify({ pid: 7, host: `\u001b]0;x\u0007${"h".repeat(200)}`, since: 1e300, start: 5, boot: "" }));
    expect(owner).toEqual({ pid: 7, host: `\u001b]0;x\u0007${"h".repeat(200)}` });
    expect(describeOwner(owner)).toBe(`pid 7 on host \\x1b]0;x\\x07${"h".repeat(74)}`);
  });

  it.each([
    ["empty", ""],
    ["truncated", '{"pid": 12'],
    ["not a record", "garbage\u0007"],
    ["an invalid pid", '{"pid": -4}'],
    ["an array", "[]"],
  ])("an owner record that is %s: held while young, stale after the grace period", (_what, text) => {
    const lock = freshLock();
    writeFileSync(lock, text);
    expect(lockState(lock)).toMatchObject({ kind: "held", owner: undefined });
    expect(tryLock(lock)).toBeUndefined();
    age(lock, unreadableGraceMs + 1000);
    expect(lockState(lock)).toMatchObject({ kind: "stale", why: "its owner record is empty or unreadable" });
    tryLock(lock)!();
    expect(entries(lock)).toEqual([]);
  });

  it("a lock directory (fetchgit's layout before file-lock.ts) is unreadable: stale after the grace period, and removed", () => {
    const lock = freshLock();
    mkdirSync(lock);
    writeFileSync(join(lock, "owner.json"), JSON.stringify({ id: "x", pid: process.pid }));
    expect(tryLock(lock)).toBeUndefined();
    age(lock, unreadableGraceMs + 1000);
    tryLock(lock)!();
    expect(entries(lock)).toEqual([]);
  });

  it("a lock that is a link (to /dev/zero, to a record elsewhere), a FIFO or a huge file is never read through: unreadable, then broken without touching its target", () => {
    const elsewhere = join(tempDir("file-lock-elsewhere-"), "record");
    const elsewhereText = record({});
    writeFileSync(elsewhere, elsewhereText);
    const fifo = join(tempDir("file-lock-fifo-"), "f");
    spawnSync("mkfifo", [fifo]);
    const huge = join(tempDir("file-lock-huge-"), "h");
    writeFileSync(huge, record({}) + " ".repeat(64 * 1024));
    for (const make of [(l: string) => symlinkSync("/dev/zero", l), (l: string) => symlinkSync(elsewhere, l), (l: string) => renameSync(fifo, l), (l: string) => renameSync(huge, l)]) {
      const lock = freshLock();
      make(lock);
      expect(lockState(lock)).toMatchObject({ kind: "held", owner: undefined });
      expect(tryLock(lock)).toBeUndefined();
      const past = (Date.now() - unreadableGraceMs - 1000) / 1000;
      lutimesSync(lock, past, past); // the lock's own time: a link is not followed here either
      tryLock(lock)!();
      expect(entries(lock)).toEqual([]);
    }
    expect(readFileSync(elsewhere, "utf8")).toBe(elsewhereText);
  });

  it("N real processes taking turns: every increment of a shared counter survives, nothing is left behind", async () => {
    const lock = freshLock();
    const counter = join(lock, "..", "counter");
    writeFileSync(counter, "0");
    const [processes, rounds] = [6, 40];
    const children = Array.from({ length: processes }, () => spawn(process.execPath, [worker, "count", lock, counter, String(rounds)], { stdio: "inherit" }));
    const codes = await Promise.all(children.map((child) => new Promise((resolve) => child.on("exit", resolve))));
    expect(codes).toEqual(Array(processes).fill(0));
    expect(readFileSync(counter, "utf8")).toBe(String(processes * rounds));
    expect(entries(lock)).toEqual(["counter"]);
  });
});

describe("breaking a stale lock", () => {
  it("a lock taken by a live process after it was judged stale is put back, not removed", () => {
    const lock = freshLock();
    const live = record({});
    writeFileSync(lock, live);
    expect(breakStaleLock(lock, "2147483646 1\n")).toBe(false);
    expect(readFileSync(lock, "utf8")).toBe(live);
    expect(entries(lock)).toEqual(["x.lock"]);
  });

  it("a lock released meanwhile counts as broken; one that still holds what was judged stale is removed", () => {
    const lock = freshLock();
    expect(breakStaleLock(lock, "2147483646 1\n")).toBe(true);
    writeFileSync(lock, "2147483646 1\n");
    expect(breakStaleLock(lock, "2147483646 1\n")).toBe(true);
    expect(entries(lock)).toEqual([]);
  });

  it("only under the breaker: a live breaker makes others wait, a dead one's breaker is removed", () => {
    const lock = freshLock();
    writeFileSync(lock, "2147483646 1\n");
    writeFileSync(`${lock}.break`, record({}));
    expect(tryLock(lock)).toBeUndefined();
    expect(existsSync(lock)).toBe(true);
    writeFileSync(`${lock}.break`, record({ pid: deadPid() }));
    expect(tryLock(lock)).toBeUndefined(); // this try removes the dead breaker
    expect(existsSync(`${lock}.break`)).toBe(false);
    tryLock(lock)!();
    expect(entries(lock)).toEqual([]);
  });

  it("a release leaves alone a lock that is no longer its own", () => {
    const lock = freshLock();
    const release = tryLock(lock)!;
    const other = record({ pid: 1 });
    writeFileSync(lock, other);
    release();
    expect(readFileSync(lock, "utf8")).toBe(other);
  });

  it("what a killed taker or breaker left beside a lock is recognised by its pid", () => {
    const dir = tempDir("file-lock-leftovers-");
    const pid = deadPid();
    const names = [`x.lock.${pid}-a-0-b.tmp`, `lock.stale-${pid}-a-0-b.tmp`, `x.lock.${process.pid}-a-0-b.tmp`, "x.lock", "x.lock.break", "y.txt"];
    for (const name of names) writeFileSync(join(dir, name), "");
    removeLeftoversOfDeadProcesses(dir, [lockLeftovers]);
    expect(readdirSync(dir).sort()).toEqual(["x.lock", "x.lock.break", `x.lock.${process.pid}-a-0-b.tmp`, "y.txt"].sort());
  });
});

describe("waiting for a lock", () => {
  it("says who holds it once the wait passes the notice delay, then how long so far; takes it once released", async () => {
    const lock = freshLock();
    writeFileSync(lock, record({ pid: 2147483646, pidns: "pid:[1]", host: "h\u001b[31m", since: Date.UTC(2026, 0, 1, 12, 34, 56) }));
    const lines: string[] = [];
    const taking = acquireLock(lock, { what: "the build of x", log: (line) => lines.push(line), noticeAfterMs: 20, noticeEveryMs: 60 });
    await until(() => lines.length >= 2, "two notices");
    expect(lines[0]).toBe(
      `waiting for the build of x: the lock ${lock} is held by pid 2147483646 on host h\\x1b[31m in pid namespace pid:[1] since 2026-01-01 12:34:56 UTC ` +
        `(its owner is on another host, h\\x1b[31m); if that process is not running, remove the lock file`,
    );
    expect(lines[1]).toMatch(/^still waiting for the build of x \(\d+ s so far\), held by pid 2147483646 on host /);
    writeFileSync(lock, ""); // released and retaken by a crash: stale after the grace period
    age(lock, unreadableGraceMs + 1000);
    const release = await taking;
    expect(parseOwner(readFileSync(lock, "utf8"))?.pid).toBe(process.pid);
    release!();
    expect(entries(lock)).toEqual([]);
  });

  it("says at once under --verbose that it waits, naming the owner", async () => {
    const lock = freshLock();
    writeFileSync(lock, record({}));
    const lines: string[] = [];
    let finished = false;
    const taking = acquireLock(lock, { what: "the build of x", log: (line) => lines.push(line), verbose: true, done: () => finished });
    await until(() => lines.length >= 1, "the verbose line");
    expect(lines[0]).toMatch(new RegExp(`^the build of x is locked by pid ${process.pid} on host .* \\(its owner is running\\); waiting$`));
    finished = true;
    expect(await taking).toBeUndefined();
  });

  it("ends without the lock once done() says another process did the work", async () => {
    const lock = freshLock();
    writeFileSync(lock, record({}));
    let finished = false;
    const taking = acquireLock(lock, { what: "x", log: () => {}, done: () => finished });
    finished = true;
    expect(await taking).toBeUndefined();
    expect(acquireLockSync(lock, { what: "x", log: () => {}, done: () => true })).toBeUndefined();
  });

  it("times out with one line naming the owner and the lock", async () => {
    const lock = freshLock();
    writeFileSync(lock, record({ since: 0 }));
    await expect(acquireLock(lock, { what: "the repository file:///x", log: () => {}, timeoutMs: 50 })).rejects.toThrow(
      `waiting for the repository file:///x: the lock ${lock} is held by pid ${process.pid} on host ${hostname()} since 1970-01-01 00:00:00 UTC (its owner is running); if that process is not running, remove the lock file`,
    );
  });

  it("the synchronous form blocks until a real holder lets go", async () => {
    const lock = freshLock();
    const child = await holder(lock);
    child.kill("SIGTERM"); // sent at once (a pipe would wait for the event loop); the holder releases while this thread is blocked below
    const release = acquireLockSync(lock, { what: "x", log: () => {} });
    expect(parseOwner(readFileSync(lock, "utf8"))?.pid).toBe(process.pid);
    release();
    await exited(child);
    expect(entries(lock)).toEqual([]);
  });
});
