/**
 * Cross-process locks, one file each, for everything tsexec does once for
 * several processes: a fetch of a git repository, a derivation's build, an
 * npm tree's install, an update of a tsexec.lock (the protocol: docs/locks.md).
 *
 * - The lock file holds its owner's record (JSON: pid, process start time,
 *   host, boot id, pid namespace, when taken). It is written to a private file
 *   and hard-linked into place: `link` fails atomically when the lock exists,
 *   and nobody ever sees a lock without its owner.
 * - An owner is judged dead only where that can be known: same host, boot
 *   and pid namespace, and its pid is gone or now belongs to a process that
 *   started at another time. A lock from an earlier boot of this host is
 *   stale. An owner on another host or in another pid namespace (a container
 *   sharing the cache) is never judged by its pid: it is waited for.
 * - A lock without a readable owner (empty, truncated, not a record; a lock
 *   directory of an earlier tsexec) is stale once `unreadableGraceMs` old.
 * - A stale lock is broken under a second, short-lived lock (`<lock>.break`),
 *   so two waiters never both break it; the breaker moves it aside, and puts
 *   it back if what it moved is not what it judged stale (taken meanwhile).
 * - A wait longer than 2 s prints one line naming the owner, then every 10 s
 *   how long so far, without --verbose: a wait is never silent.
 *
 * Base helper: imports only node builtins, errors, files, processes, printable and shutdown.
 */
import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, readSync, readlinkSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { TsexecError } from "./errors.js";
import { removeTree, uniqueSuffix } from "./files.js";
import { printable } from "./printable.js";
import { isAlive, processStart } from "./processes.js";
import { onExit } from "./shutdown.js";

/** How long a lock without a readable owner may exist before it is taken for a crash's leftover. */
export const unreadableGraceMs = 3_000;
/** A breaker (`<lock>.break`) is held for microseconds: one this old belongs to a process stopped or gone. */
const breakerStaleMs = 5_000;
const noticeAfterMs = 2_000;
const noticeEveryMs = 10_000;
const firstPollMs = 5;
const maxPollMs = 100;

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

/** This process as an owner, read from /proc when a lock is first taken (not at start-up). */
export function ownOwner(): LockOwner {
  return (ownRecord ??= {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    boot: readText("/proc/sys/kernel/random/boot_id")?.trim(),
    pidns: readLink("/proc/self/ns/pid"),
  });
}

/** Releases a lock taken by this process (once; a lock that is no longer its own is left alone). */
export type Release = () => void;

/** Takes `lock` if it is free or stale: its release, or undefined while someone else holds it. */
export function tryLock(lock: string): Release | undefined {
  const take = (): Release | undefined => {
    const text = `${JSON.stringify({ ...ownOwner(), since: Date.now() })}\n`;
    return linkExclusive(lock, text) ? releaser(lock, text) : undefined;
  };
  const taken = take();
  if (taken !== undefined) return taken;
  const state = lockState(lock);
  if (state.kind === "held" || (state.kind === "stale" && !breakStaleLock(lock, state.text))) return undefined;
  return take(); // released or broken just now: one more try

}

function releaser(lock: string, text: string): Release {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    forget();
    if (readText(lock) === text) unlinkQuietly(lock);
  };
  // Released on the way out too: a run stopped by a signal exits without unwinding what it was doing.
  const forget = onExit(release);
  return release;
}

/**
 * Removes `lock` if it still holds `seen` (the text judged stale; undefined
 * for an unreadable lock); true if the lock is gone. Only the holder of
 * `<lock>.break` breaks it; a breaker left by a dead or stopped process is
 * removed the same way.
 */
export function breakStaleLock(lock: string, seen: string | undefined): boolean {
  const breaker = `${lock}.break`;
  const text = `${JSON.stringify({ ...ownOwner(), since: Date.now() })}\n`;
  if (!linkExclusive(breaker, text)) {
    const state = lockState(breaker);
    if (state.kind === "stale" || (state.kind === "held" && ageMs(breaker) > breakerStaleMs)) removeIfUnchanged(breaker, state.text);
    return false;
  }
  try {
    return removeIfUnchanged(lock, seen);
  } finally {
    if (readText(breaker) === text) unlinkQuietly(breaker);
  }
}

/**
 * Moves `path` aside and removes it if it held `seen`; otherwise (it was
 * taken meanwhile by a live process) puts it back. True if `path` is gone.
 */
function removeIfUnchanged(path: string, seen: string | undefined): boolean {
  const aside = `${path}.stale-${uniqueSuffix()}.tmp`;
  try {
    renameSync(path, aside);
  } catch {
    return true; // released or broken meanwhile
  }
  if (readText(aside) === seen) {
    removeTree(aside);
    return true;
  }
  try {
    // link (files) and rename of a directory both fail rather than replace a lock taken since.
    if (lstatSync(aside).isDirectory()) renameSync(aside, path);
    else linkSync(aside, path);
  } catch {
    // Another process took the free place: the moved lock's owner lost it (the narrowest race left).
  }
  removeTree(aside);
  return false;
}

export type LockState =
  | { readonly kind: "free" }
  | { readonly kind: "held"; readonly owner: LockOwner | undefined; readonly why: string; readonly text: string | undefined }
  | { readonly kind: "stale"; readonly why: string; readonly text: string | undefined };

/** What a lock file says about its owner, and whether it may be broken. */
export function lockState(lock: string): LockState {
  const text = readText(lock);
  if (text === undefined && !exists(lock)) return { kind: "free" };
  const owner = text === undefined ? undefined : parseOwner(text);
  if (owner === undefined) {
    return ageMs(lock) > unreadableGraceMs
      ? { kind: "stale", why: "its owner record is empty or unreadable", text }
      : { kind: "held", owner, why: `its owner record is empty or unreadable; stale ${unreadableGraceMs / 1000} s after its last change`, text };
  }
  const me = ownOwner();
  if (owner.host !== undefined && me.host !== undefined && owner.host !== me.host) {
    return { kind: "held", owner, why: `its owner is on another host, ${clean(owner.host)}`, text };
  }
  if (owner.boot !== undefined && me.boot !== undefined && owner.boot !== me.boot) {
    return { kind: "stale", why: "its owner ran before this machine booted", text };
  }
  if (owner.pidns !== undefined && me.pidns !== undefined && owner.pidns !== me.pidns) {
    return { kind: "held", owner, why: `its owner is in another pid namespace, ${clean(owner.pidns)}, where its pid cannot be checked`, text };
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
 * earlier versions of the build lock wrote it. undefined for anything else.
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
  // A time Date can show (a crafted 1e300 would make toISOString throw).
  if (typeof since === "number" && !Number.isNaN(new Date(since).getTime())) owner.since = since;
  return owner;
}

function validPid(pid: unknown): pid is number {
  return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0;
}

/** A record's text for a message: printable, and short, whatever the file held. */
const clean = (text: string) => printable(text.slice(0, 80));

/** "pid 123 on host h in pid namespace pid:[…] since 2026-11-21 12:00:01 UTC". */
export function describeOwner(owner: LockOwner | undefined): string {
  if (owner === undefined) return "an unknown process";
  const parts = [`pid ${owner.pid}`];
  if (owner.host !== undefined) parts.push(`on host ${clean(owner.host)}`);
  if (owner.pidns !== undefined && owner.pidns !== ownOwner().pidns) parts.push(`in pid namespace ${clean(owner.pidns)}`);
  if (owner.since !== undefined) parts.push(`since ${new Date(owner.since).toISOString().slice(0, 19).replace("T", " ")} UTC`);
  return parts.join(" ");
}

/** "pid 123 on host h since … (its owner is running)", or who just let go. */
function describeHolder(lock: string): string {
  const state = lockState(lock);
  return state.kind === "held" ? `${describeOwner(state.owner)} (${state.why})` : "a process that has just let it go";
}

export interface LockWait {
  /** What is waited for, for messages: "the build of x", "the repository <url>". */
  readonly what: string;
  /** Where the waiting lines go (the run's log: printed without -v). */
  readonly log: (line: string) => void;
  /** True once the work the lock protects was done by another process: the wait ends without the lock. */
  readonly done?: () => boolean;
  /** Fails the wait with one error naming the owner after this long (no limit without it). */
  readonly timeoutMs?: number;
  /** Says at once (not after 2 s) that the lock is held. */
  readonly verbose?: boolean;
  readonly noticeAfterMs?: number;
  readonly noticeEveryMs?: number;
}

/** Waits (asynchronously) until `lock` is taken: its release, or undefined once `done()` says the work is done. */
export function acquireLock(lock: string, wait: LockWait & { readonly done?: undefined }): Promise<Release>;
export function acquireLock(lock: string, wait: LockWait): Promise<Release | undefined>;
export async function acquireLock(lock: string, wait: LockWait): Promise<Release | undefined> {
  const waiter = new Waiter(lock, wait);
  for (;;) {
    const step = waiter.attempt();
    if (typeof step !== "number") return step;
    await new Promise((resolve) => setTimeout(resolve, step));
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The synchronous form of `acquireLock` (blocks the thread between polls). */
export function acquireLockSync(lock: string, wait: LockWait & { readonly done?: undefined }): Release;
export function acquireLockSync(lock: string, wait: LockWait): Release | undefined;
export function acquireLockSync(lock: string, wait: LockWait): Release | undefined {
  const waiter = new Waiter(lock, wait);
  for (;;) {
    const step = waiter.attempt();
    if (typeof step !== "number") return step;
    Atomics.wait(sleeper, 0, 0, step);
  }
}

/** One wait for a lock: attempts, the notices of a long wait, the timeout. */
class Waiter {
  private readonly started = Date.now();
  private attempts = 0;
  private noticed = false;
  private nextNoticeAt: number;

  constructor(
    private readonly lock: string,
    private readonly wait: LockWait,
  ) {
    this.nextNoticeAt = wait.noticeAfterMs ?? noticeAfterMs;
  }

  /** Tries once: the release when taken, undefined when done elsewhere, else how long to sleep before the next try. */
  attempt(): Release | undefined | number {
    const taken = tryLock(this.lock);
    if (taken !== undefined) return taken;
    if (this.wait.done?.() === true) return undefined;
    const { what, log } = this.wait;
    if (this.attempts === 0 && this.wait.verbose === true) log(`${what} is locked by ${describeHolder(this.lock)}; waiting`);
    const waited = Date.now() - this.started;
    if (this.wait.timeoutMs !== undefined && waited > this.wait.timeoutMs) {
      throw new TsexecError(
        `timed out after ${Math.round(waited / 1000)} s waiting for ${what}: the lock ${this.lock} is held by ${describeHolder(this.lock)}; if that process is not running, remove the lock file`,
      );
    }
    if (waited >= this.nextNoticeAt) {
      log(
        this.noticed
          ? `still waiting for ${what} (${Math.round(waited / 1000)} s so far), held by ${describeHolder(this.lock)}`
          : `waiting for ${what}: the lock ${this.lock} is held by ${describeHolder(this.lock)}; if that process is not running, remove the lock file`,
      );
      this.noticed = true;
      this.nextNoticeAt = waited + (this.wait.noticeEveryMs ?? noticeEveryMs);
    }
    return Math.min(firstPollMs << Math.min(this.attempts++, 5), maxPollMs);
  }
}

/**
 * What a killed process can leave beside a lock (every lock's name ends in
 * `lock`): its private copy (`<lock>.<pid>-….tmp`) and a lock it was breaking
 * (`<lock>.stale-<pid>-….tmp`), the pid in the first group, for files.ts
 * removeLeftoversOfDeadProcesses.
 */
export const lockLeftovers = /(?:^|\.)lock\.(?:stale-)?(\d+)-[^/]*\.tmp$/;

/** Creates `path` holding `text`, unless it exists: written privately, then linked into place. */
function linkExclusive(path: string, text: string): boolean {
  const mine = `${path}.${uniqueSuffix()}.tmp`;
  writeFileSync(mine, text, { flag: "wx" });
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

/** An owner record is ~200 bytes: a lock file larger than this is not one (unreadable, so stale after the grace). */
const maxRecordBytes = 4096;

/**
 * A lock file's text. A lock may sit in a directory someone else made (tsexec.lock.lock in a
 * cloned project): never through a link, never a FIFO or a device, never more than a record.
 */
function readText(path: string): string | undefined {
  return readSmallFile(path, maxRecordBytes);
}

/**
 * The text of a small file that may have been put there by someone else (a lock record in a
 * cloned directory): read without following a link, only if it is a regular file, and only up
 * to `maxBytes`. undefined for anything else (a link, a FIFO, /dev/zero behind a name, a file
 * too large), so a crafted name can neither block the read nor fill memory.
 */
function readSmallFile(path: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    // Read to the end rather than trust st_size (files under /proc report 0).
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    return length > maxBytes ? undefined : buffer.toString("utf8", 0, length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
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
