/**
 * The build lock: one file per derivation, `<cache-dir>/builds/<store-name>.lock`,
 * that processes building the same derivation take turns on.
 *
 * - The lock file holds its owner's record (JSON): pid, the process's start
 *   time, host name, boot id and pid namespace, and when it was taken. It is
 *   written to a private file first and hard-linked into place, so a lock file
 *   is never seen half-written by tsexec (`link` fails atomically when the lock
 *   exists).
 * - An owner is judged dead only when that can be known: same host, same boot
 *   and same pid namespace, and its pid is gone or now belongs to a process
 *   that started at another time. A lock from another boot of this host is
 *   stale. A lock from another host or another pid namespace (a container
 *   sharing the cache) is never broken by its pid: it is waited for.
 * - A lock whose owner cannot be read (empty, truncated, not a record) is stale
 *   once it is older than `unreadableGraceMs` (it cannot be a lock being taken:
 *   those appear whole).
 * - A wait longer than `noticeAfterMs` prints one line naming the owner, then
 *   how long it has waited every `noticeEveryMs`, without --verbose: a wait is
 *   never silent.
 */
import { linkSync, lstatSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { isAlive, processStart } from "../../runtime/processes.js";
import { makeDirectory } from "../../runtime/files.js";

const pollMs = 20;
export const unreadableGraceMs = 3_000;
const noticeAfterMs = 2_000;
const noticeEveryMs = 10_000;
/** A lock breaker (see tryLock) that died while breaking is itself stale after this. */
const breakerStaleMs = 5_000;

/** Who holds a lock. */
export interface LockOwner {
  readonly pid: number;
  /** Start time of the process in clock ticks since boot (field 22 of /proc/<pid>/stat), where /proc exists. */
  readonly start?: string;
  readonly host?: string;
  /** /proc/sys/kernel/random/boot_id: another value is another boot (every pid of the record is gone). */
  readonly boot?: string;
  /** readlink /proc/self/ns/pid, "pid:[4026531836]": pids mean something only within one namespace. */
  readonly pidns?: string;
  /** When the lock was taken (ms since the epoch). */
  readonly since?: number;
}

let ownRecord: LockOwner | undefined;

/** This process's record, read from /proc when a lock is first taken (not at start-up). */
export function ownOwner(): LockOwner {
  return (ownRecord ??= {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    boot: readText("/proc/sys/kernel/random/boot_id"),
    pidns: readLink("/proc/self/ns/pid"),
  });
}

/** Takes `lock` if it is free or stale; false if someone else holds it. */
export function tryLock(lock: string): boolean {
  makeDirectory(dirname(lock));
  if (linkExclusive(lock, { ...ownOwner(), since: Date.now() })) return true;
  const state = lockState(lock);
  if (state.kind !== "stale") return false;
  // Two waiters must not both break it (the second would break the first's new lock):
  // a short-lived second lock decides who does.
  const breaker = `${lock}.break`;
  if (!linkExclusive(breaker, { ...ownOwner(), since: Date.now() })) {
    if (ageMs(breaker) > breakerStaleMs) unlinkQuietly(breaker);
    return false;
  }
  try {
    if (readText(lock) === state.text) unlinkQuietly(lock);
  } finally {
    unlinkQuietly(breaker);
  }
  return linkExclusive(lock, { ...ownOwner(), since: Date.now() });
}

export function releaseLock(lock: string): void {
  unlinkQuietly(lock);
}

export type LockState =
  | { readonly kind: "free" }
  | { readonly kind: "held"; readonly owner: LockOwner | undefined; readonly why: string; readonly text: string | undefined }
  | { readonly kind: "stale"; readonly why: string; readonly text: string | undefined };

/** What a lock file says about its owner, and whether it can be broken. */
export function lockState(lock: string): LockState {
  const text = readText(lock);
  if (text === undefined && !exists(lock)) return { kind: "free" };
  const owner = text === undefined ? undefined : parseOwner(text);
  if (owner === undefined) {
    const age = ageMs(lock);
    return age > unreadableGraceMs
      ? { kind: "stale", why: "its owner record is empty or unreadable", text }
      : { kind: "held", owner, why: "its owner record is empty or unreadable (stale after a few seconds)", text };
  }
  const me = ownOwner();
  if (owner.host !== undefined && me.host !== undefined && owner.host !== me.host) {
    return { kind: "held", owner, why: `its owner is on another host (${owner.host})`, text };
  }
  if (owner.boot !== undefined && me.boot !== undefined && owner.boot !== me.boot) {
    return { kind: "stale", why: "its owner ran before this machine booted", text };
  }
  if (owner.pidns !== undefined && me.pidns !== undefined && owner.pidns !== me.pidns) {
    return { kind: "held", owner, why: `its owner is in another pid namespace (${owner.pidns}), where its pid cannot be checked`, text };
  }
  if (!isAlive(owner.pid)) return { kind: "stale", why: `its owner, pid ${owner.pid}, is gone`, text };
  const start = processStart(owner.pid);
  if (owner.start !== undefined && start !== undefined && start !== owner.start) {
    return { kind: "stale", why: `pid ${owner.pid} is now another process`, text };
  }
  return { kind: "held", owner, why: "its owner is running", text };
}

/**
 * The owner record in `text`: the JSON record, or `<pid> [<start>]` as
 * earlier versions wrote it. undefined for anything else.
 */
export function parseOwner(text: string): LockOwner | undefined {
  const trimmed = text.trim();
  const legacy = /^(\d+)(?: (\d+))?$/.exec(trimmed);
  if (legacy) return validPid(Number(legacy[1])) ? { pid: Number(legacy[1]), ...(legacy[2] ? { start: legacy[2] } : {}) } : undefined;
  let record: unknown;
  try {
    record = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (typeof record !== "object" || record === null) return undefined;
  const { pid, start, host, boot, pidns, since } = record as Record<string, unknown>;
  if (!validPid(pid)) return undefined;
  const str = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const owner: { -readonly [K in keyof LockOwner]: LockOwner[K] } = { pid };
  if (str(start)) owner.start = str(start);
  if (str(host)) owner.host = str(host);
  if (str(boot)) owner.boot = str(boot);
  if (str(pidns)) owner.pidns = str(pidns);
  if (typeof since === "number" && Number.isFinite(since)) owner.since = since;
  return owner;
}

function validPid(pid: unknown): pid is number {
  return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0;
}

/** "pid 123 on host h (pid namespace pid:[…]), since 12:00:01" — printable whatever the record held. */
export function describeOwner(owner: LockOwner | undefined): string {
  if (owner === undefined) return "an owner it does not name";
  const clean = (text: string) => text.replace(/[^\x20-\x7e]/g, "?").slice(0, 80);
  const parts = [`pid ${owner.pid}`];
  if (owner.host !== undefined) parts.push(`on host ${clean(owner.host)}`);
  if (owner.pidns !== undefined && owner.pidns !== ownOwner().pidns) parts.push(`in pid namespace ${clean(owner.pidns)}`);
  if (owner.since !== undefined) parts.push(`since ${new Date(owner.since).toISOString()}`);
  return parts.join(" ");
}

/** Tells the user about a long wait: once after `noticeAfterMs`, then every `noticeEveryMs`. */
export class WaitNotices {
  private readonly started = Date.now();
  private nextAt = noticeAfterMs;

  constructor(
    private readonly what: string,
    private readonly lock: string,
    private readonly log: (line: string) => void,
  ) {}

  tick(): void {
    const waited = Date.now() - this.started;
    if (waited < this.nextAt) return;
    const seconds = Math.round(waited / 1000);
    if (this.nextAt === noticeAfterMs) {
      const state = lockState(this.lock);
      const who = state.kind === "held" ? `${describeOwner(state.owner)}; ${state.why}` : state.kind;
      this.log(`waiting for ${this.what}: the lock ${this.lock} is held by ${who}. Waited ${seconds} s; if no such build is running, remove the lock file.`);
    } else {
      this.log(`still waiting for ${this.what} (${seconds} s)`);
    }
    this.nextAt = waited + noticeEveryMs - (waited % 1000);
  }
}

/** Waits (asynchronously) until `lock` is taken or `done()` says the wait is over; true if the lock was taken. */
export async function acquire(lock: string, what: string, log: (line: string) => void, done: () => boolean, verbose = false): Promise<boolean> {
  const notices = new WaitNotices(what, lock, log);
  for (let first = true; ; first = false) {
    if (tryLock(lock)) return true;
    if (done()) return false;
    if (first && verbose) tellLocked(what, lock, log);
    notices.tick();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The synchronous form of `acquire` (blocks the thread between polls). */
export function acquireSync(lock: string, what: string, log: (line: string) => void, done: () => boolean, verbose = false): boolean {
  const notices = new WaitNotices(what, lock, log);
  for (let first = true; ; first = false) {
    if (tryLock(lock)) return true;
    if (done()) return false;
    if (first && verbose) tellLocked(what, lock, log);
    notices.tick();
    Atomics.wait(sleeper, 0, 0, pollMs);
  }
}

/** Under --verbose: the wait starts (the notice comes only after two seconds). */
function tellLocked(what: string, lock: string, log: (line: string) => void): void {
  const state = lockState(lock);
  log(`${what} is locked by ${state.kind === "held" ? describeOwner(state.owner) : "a process that just finished"}; waiting`);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function linkExclusive(path: string, owner: LockOwner): boolean {
  const mine = `${path}.${process.pid}.tmp`;
  writeFileSync(mine, `${JSON.stringify(owner)}\n`);
  try {
    linkSync(mine, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkQuietly(mine);
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

function ageMs(path: string): number {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  return stat ? Date.now() - stat.mtimeMs : 0;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}
