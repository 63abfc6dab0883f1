/**
 * fetchgit's cache, one directory per repository URL:
 *
 *     <cacheDir>/git/<sha256(url), 32 hex>/
 *       url                      the URL, for people reading the cache
 *       repo.git/                bare repository the fetches go into
 *       lock/                    held while a process fetches (owner.json inside)
 *       refs.json                last resolution of each moving rev: { rev: { commit, resolvedAt } }
 *       checkouts/<commit>       finished read-only checkout (with submodules)
 *       checkouts/<commit>-nosub finished checkout without submodules
 *       checkouts/<commit>.json  metadata written before the rename: { contentHash }
 *       checkouts/.tmp-<pid>-*   a checkout being assembled
 *
 * A checkout is complete exactly when its directory exists: it is assembled in
 * `.tmp-<pid>-*` beside it and renamed into place. Temporary directories and
 * locks of dead processes are removed by the next fetch of the repository.
 * `refs.json` is where the hourly re-resolution time of moving refs is kept.
 */
import { mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { TsexecError } from "../../runtime/errors.js";
// uniqueSuffix() leads with the pid, so leftovers of dead processes are recognised.
import { makeDirectories, removeLeftoversOfDeadProcesses, removeTree, uniqueSuffix, writeFileAtomic } from "../../runtime/files.js";
import { isAlive, processStart } from "../../runtime/processes.js";
import { sha256Hex } from "./sha256.js";
import { isFullHash } from "./url.js";

export interface RepositoryPaths {
  readonly root: string;
  readonly bare: string;
  readonly lock: string;
  readonly refs: string;
  readonly checkouts: string;
}

export function repositoryPaths(cacheDir: string, url: string): RepositoryPaths {
  const root = join(cacheDir, "git", sha256Hex(url).slice(0, 32));
  return {
    root,
    bare: join(root, "repo.git"),
    lock: join(root, "lock"),
    refs: join(root, "refs.json"),
    checkouts: join(root, "checkouts"),
  };
}

/** `mkdir -p` of a cache directory, naming it when it cannot be made (see files.ts: never Node's recursive mkdir). */
export function makeCacheDirectory(path: string): void {
  makeDirectories(path, (dir, code) => `fetchgit: cannot create the cache directory ${dir} (${code}); use a writable --cache-dir or TSEXEC_CACHE_DIR`);
}

export function checkoutName(commit: string, fetchSubmodules: boolean): string {
  return fetchSubmodules ? commit : `${commit}-nosub`;
}

/** The finished checkout of `commit`, if there is one: a single stat, no git. */
export function findCheckout(paths: RepositoryPaths, commit: string, fetchSubmodules: boolean): string | undefined {
  const dir = join(paths.checkouts, checkoutName(commit, fetchSubmodules));
  try {
    return statSync(dir).isDirectory() ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** `<…>/git/<32 hex>/checkouts/<commit>[-nosub]`: where repositoryPaths() puts finished checkouts. */
const checkoutPath = /^(.*\/git\/[0-9a-f]{32}\/checkouts\/(?:[0-9a-f]{40}|[0-9a-f]{64})(?:-nosub)?)(?:\/|$)/;

/** The fetched checkout `path` lies in (by its name, whatever the cache directory), if any. */
export function checkoutHolding(path: string): string | undefined {
  return checkoutPath.exec(path)?.[1];
}

export interface CheckoutMetadata {
  readonly commit: string;
  /** `sha256-<base64>` of the content in the canonical form of hash.ts. */
  readonly contentHash: string;
}

/** Says one line about a cache file that was invalid and has been removed. */
export type Warn = (line: string) => void;

/**
 * Cache files are input like any other (a crash, a disk error or a person may
 * have left anything there): each is checked for its shape when read, and
 * one that fails is removed with a warning, to be rebuilt.
 */
function readCacheFile<T>(file: string, valid: (value: unknown) => value is T, what: string, warn: Warn): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (valid(value)) return value;
  rmSync(file, { force: true });
  warn(`warning: fetchgit: removed ${file}: it was not a valid ${what}; it will be rebuilt`);
  return undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function isMetadata(value: unknown): value is CheckoutMetadata {
  return (
    isRecord(value) &&
    typeof value.contentHash === "string" &&
    /^sha256-[A-Za-z0-9+/]{43}=$/.test(value.contentHash) &&
    (value.commit === undefined || (typeof value.commit === "string" && isFullHash(value.commit)))
  );
}

export function readMetadata(checkout: string, warn: Warn = () => {}): CheckoutMetadata | undefined {
  return readCacheFile(`${checkout}.json`, isMetadata, "checkout record ({ commit, contentHash })", warn);
}

// ---- resolutions of moving refs (branches, tags, HEAD) ----

export interface Resolution {
  readonly commit: string;
  /** When the rev was last resolved against the remote (ms since the epoch). */
  readonly resolvedAt: number;
}

function isResolutions(value: unknown): value is Record<string, Resolution> {
  return (
    isRecord(value) &&
    Object.values(value).every((r) => isRecord(r) && typeof r.commit === "string" && isFullHash(r.commit) && typeof r.resolvedAt === "number" && Number.isFinite(r.resolvedAt))
  );
}

export function readResolutions(paths: RepositoryPaths, warn: Warn = () => {}): Record<string, Resolution> {
  const all = readCacheFile(paths.refs, isResolutions, "record of resolved refs ({ <rev>: { commit, resolvedAt } })", warn);
  // A null-prototype copy: a rev named `__proto__` or `constructor` is a key like any other.
  return Object.assign(Object.create(null) as Record<string, Resolution>, all);
}

export function recordResolution(paths: RepositoryPaths, rev: string, commit: string, warn: Warn = () => {}): void {
  const all = readResolutions(paths, warn);
  all[rev] = { commit, resolvedAt: Date.now() };
  writeFileAtomic(paths.refs, JSON.stringify(all, null, 1));
}

// ---- locks ----

/** Who holds a lock: enough to tell a live owner from a dead one, and to name it to a waiting user. */
export interface LockOwner {
  /** The candidate directory's suffix: tells this owner's lock from a later one. */
  readonly id: string;
  readonly pid: number;
  /** The process's start time (Linux /proc), so a reused pid is not taken for the owner. */
  readonly start: string | undefined;
  readonly host: string;
  /** /proc/sys/kernel/random/boot_id: an owner from an earlier boot of this host is gone. */
  readonly bootId?: string | undefined;
  /** readlink /proc/self/ns/pid: a pid means something only inside its own pid namespace. */
  readonly pidNamespace?: string | undefined;
  readonly since: number;
}

function readText(path: string, read: (path: string) => string): string | undefined {
  try {
    return read(path).trim() || undefined;
  } catch {
    return undefined;
  }
}

let self: Omit<LockOwner, "id" | "since"> | undefined;

/** This process as a lock owner (computed once). */
function thisProcess(): Omit<LockOwner, "id" | "since"> {
  self ??= {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    bootId: readText("/proc/sys/kernel/random/boot_id", (p) => readFileSync(p, "utf8")),
    pidNamespace: readText("/proc/self/ns/pid", readlinkSync),
  };
  return self;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long an unreadable lock (no owner.json, empty, truncated) may exist before it is taken for a crash's leftover. */
export const unreadableLockGraceMs = 2_000;
/** A wait longer than this is reported, and again every `waitReportEveryMs`. */
const waitReportAfterMs = 2_000;
const waitReportEveryMs = 10_000;

/**
 * Takes the lock of a repository across processes: a directory with
 * `owner.json`, created beside `lock` and renamed onto it, so the lock never
 * exists without its owner. A lock whose owner is gone (killed, or from an
 * earlier boot), or that has no readable owner after a grace period, is taken
 * over. Waits longer than 2 s are reported through `report` (one line naming
 * the owner, then how long, every 10 s). Callers in one process take turns
 * before calling this (checkout.ts), so it is never taken twice by a process.
 */
export interface LockWait {
  /** Where the waiting lines go (the run's log: printed without -v). */
  readonly report?: (line: string) => void;
  readonly timeoutMs?: number;
  readonly reportAfterMs?: number;
  readonly reportEveryMs?: number;
}

export async function acquireLock(paths: RepositoryPaths, what: string, wait: LockWait = {}): Promise<() => void> {
  const { report = () => {}, timeoutMs = lockTimeoutMs(), reportAfterMs = waitReportAfterMs, reportEveryMs = waitReportEveryMs } = wait;
  makeCacheDirectory(paths.root);
  const started = Date.now();
  let reported = 0;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const id = uniqueSuffix();
    const candidate = `${paths.lock}.${id}`;
    mkdirSync(candidate);
    const owner: LockOwner = { id, ...thisProcess(), since: Date.now() };
    writeFileSync(join(candidate, "owner.json"), JSON.stringify(owner));
    try {
      renameSync(candidate, paths.lock);
      return () => releaseLock(paths, id);
    } catch (error) {
      rmSync(candidate, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    }
    if (breakStaleLock(paths)) continue;
    const waited = Date.now() - started;
    if (waited > timeoutMs) {
      throw new TsexecError(
        `fetchgit: timed out after ${Math.round(waited / 1000)} s waiting for the lock on ${what}, held by ${describeOwner(paths.lock)}; if that process is not fetching it, remove ${paths.lock}`,
      );
    }
    if (reported === 0 ? waited >= reportAfterMs : waited - reported >= reportEveryMs) {
      report(
        reported === 0
          ? `waiting for the lock on ${what}: held by ${describeOwner(paths.lock)} (${paths.lock})`
          : `still waiting for the lock on ${what} (${Math.round(waited / 1000)} s so far), held by ${describeOwner(paths.lock)}`,
      );
      reported = waited;
    }
    await sleep(delay);
  }
}

/** TSEXEC_LOCK_TIMEOUT seconds, else ten minutes. */
function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env.TSEXEC_LOCK_TIMEOUT);
  return (seconds > 0 ? seconds : 600) * 1000;
}

function releaseLock(paths: RepositoryPaths, id: string): void {
  // Only our own lock: renamed away first so nobody sees a half-removed lock.
  if (readOwner(paths.lock)?.id !== id) return;
  const gone = `${paths.lock}.released-${uniqueSuffix()}`;
  try {
    renameSync(paths.lock, gone);
    rmSync(gone, { recursive: true, force: true });
  } catch {
    // Gone already.
  }
}

/** The owner record of a lock, if it is readable and has the right shape. */
export function readOwner(lock: string): LockOwner | undefined {
  let owner: unknown;
  try {
    owner = JSON.parse(readFileSync(join(lock, "owner.json"), "utf8"));
  } catch {
    return undefined;
  }
  const o = owner as Partial<LockOwner> | null;
  const valid =
    typeof o === "object" && o !== null && typeof o.id === "string" && Number.isSafeInteger(o.pid) && typeof o.host === "string" && typeof o.since === "number";
  return valid ? (o as LockOwner) : undefined;
}

/** "pid 123 on host h since 12:00:01", for waiting messages (printable characters only: the file may be anyone's). */
function describeOwner(lock: string): string {
  const owner = readOwner(lock);
  if (owner === undefined) return "an unknown process (its owner.json is missing or unreadable)";
  const clean = (text: string) => text.replace(/[^\x20-\x7e]/g, "?").slice(0, 100);
  const since = new Date(owner.since).toISOString().slice(11, 19);
  return `pid ${owner.pid} on host ${clean(owner.host)} since ${since} UTC`;
}

/** Why a lock may be taken over, or undefined while its owner may still be working. */
export function staleReason(lock: string, now = Date.now()): string | undefined {
  const owner = readOwner(lock);
  if (owner === undefined) {
    let age: number;
    try {
      age = now - statSync(lock).mtimeMs;
    } catch {
      return undefined; // released meanwhile
    }
    return age > unreadableLockGraceMs ? "its owner.json is missing or unreadable" : undefined;
  }
  const me = thisProcess();
  if (owner.host !== me.host) return undefined; // another machine (shared cache): its pids mean nothing here
  if (owner.bootId !== undefined && me.bootId !== undefined && owner.bootId !== me.bootId) return "its owner ran before this machine restarted";
  if (owner.pidNamespace !== undefined && me.pidNamespace !== undefined && owner.pidNamespace !== me.pidNamespace) return undefined;
  if (!isAlive(owner.pid)) return `its owner, pid ${owner.pid}, is gone`;
  const start = processStart(owner.pid);
  if (owner.start !== undefined && start !== undefined && start !== owner.start) return `its owner's pid ${owner.pid} now belongs to another process`;
  return undefined;
}

/**
 * Removes the lock if it is stale; true if it did. The stale lock is moved to
 * a name of its own, so of several waiters breaking it only one succeeds; one
 * that moved a newer, live lock by mistake (taken just after it looked) puts
 * it back.
 */
function breakStaleLock(paths: RepositoryPaths): boolean {
  const before = readOwner(paths.lock);
  if (staleReason(paths.lock) === undefined) return false;
  const stale = `${paths.lock}.stale-${uniqueSuffix()}`;
  try {
    renameSync(paths.lock, stale);
  } catch {
    return true; // another waiter broke it first
  }
  if (readOwner(stale)?.id !== before?.id) {
    try {
      renameSync(stale, paths.lock);
    } catch {
      // Someone took the lock meanwhile; the moved one is cleaned up as a leftover.
    }
    return false;
  }
  removeTree(stale);
  return true;
}

// ---- temporary directories ----

const tempPrefix = ".tmp-";

export function makeTempCheckout(paths: RepositoryPaths): string {
  makeCacheDirectory(paths.checkouts);
  const dir = join(paths.checkouts, `${tempPrefix}${uniqueSuffix()}`);
  mkdirSync(dir);
  return dir;
}

/**
 * Leftovers a killed process can leave, by directory: each pattern captures
 * the pid that uniqueSuffix() put at the front of the name's unique part.
 */
function leftoverPatterns(paths: RepositoryPaths): [string, RegExp[]][] {
  return [
    [paths.checkouts, [/^\.tmp-(\d+)-/, /\.json\.(\d+)-[^/]*\.tmp$/]],
    [paths.root, [/^lock\.(?:[a-z]+-)?(\d+)-/, /^repo\.git\.tmp-(\d+)-/, /^refs\.json\.(\d+)-[^/]*\.tmp$/]],
    [join(paths.bare, "refs", "tsexec"), [/^(\d+)-/]],
  ];
}

/** Removes temporary checkouts, files, refs and lock candidates left by processes that died (called under the lock). */
export function removeStaleTemporaries(paths: RepositoryPaths): void {
  for (const [dir, patterns] of leftoverPatterns(paths)) removeLeftoversOfDeadProcesses(dir, patterns);
}
