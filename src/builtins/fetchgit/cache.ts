/**
 * fetchgit's cache, one directory per repository URL:
 *
 *     <cacheDir>/git/<sha256(url), 32 hex>/
 *       url                      the URL, for people reading the cache
 *       repo.git/                bare repository the fetches go into
 *       lock                     held while a process runs git on it (its owner's record; file-lock.ts)
 *       refs.json                last resolution of each moving rev: { rev: { commit, resolvedAt } }
 *       checkouts/<commit>       finished read-only checkout (with submodules)
 *       checkouts/<commit>-nosub finished checkout without submodules
 *       checkouts/<commit>.json  metadata written before the rename: { contentHash }
 *       checkouts/.tmp-<pid>-*   a checkout being assembled
 *
 * A checkout is complete exactly when its directory exists: it is assembled in
 * `.tmp-<pid>-*` beside it and renamed into place. Temporary directories and
 * lock leftovers of dead processes are removed by the next fetch of the repository.
 * `refs.json` is where the hourly re-resolution time of moving refs is kept.
 */
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { acquireLock as acquireFileLock, type Release } from "../../base/file-lock.js";
// uniqueSuffix() leads with the pid, so leftovers of dead processes are recognised.
import { makeDirectories, removeLeftoversOfDeadProcesses, uniqueSuffix, writeFileAtomic } from "../../base/files.js";
import { removeOnExit } from "../../base/shutdown.js";
import { sha256Hex } from "../../base/sha256.js";
import { markUsed } from "../../base/last-use.js";
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
    if (!statSync(dir).isDirectory()) return undefined;
    markUsed(dir); // the last-use mark tsexec gc reads
    return dir;
  } catch {
    return undefined;
  }
}

/** The fetched checkout a path lies in: `<…>/git/<32 hex>/checkouts/<commit>[-nosub]`, where repositoryPaths() puts them (base/checkout-path.ts). */
export { checkoutHolding } from "../../base/checkout-path.js";

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

// ---- the repository lock ----

/**
 * Takes the lock of a repository across processes (file-lock.ts; docs/locks.md).
 * Waits longer than 2 s are reported through `report`; after
 * TSEXEC_LOCK_TIMEOUT seconds (ten minutes without it) the wait fails naming
 * the owner. Callers in one process take turns before calling this
 * (checkout.ts), so it is never taken twice by a process.
 */
export interface LockWait {
  /** Where the waiting lines go (the run's log: printed without -v). */
  readonly report?: (line: string) => void;
  readonly timeoutMs?: number;
}

export function acquireLock(paths: RepositoryPaths, url: string, wait: LockWait = {}): Promise<Release> {
  makeCacheDirectory(paths.root);
  return acquireFileLock(paths.lock, { what: `the repository ${url}`, log: wait.report ?? (() => {}), timeoutMs: wait.timeoutMs ?? lockTimeoutMs() });
}

/** TSEXEC_LOCK_TIMEOUT seconds, else ten minutes. */
function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env.TSEXEC_LOCK_TIMEOUT);
  return (seconds > 0 ? seconds : 600) * 1000;
}

// ---- temporary directories ----

const tempPrefix = ".tmp-";

export function makeTempCheckout(paths: RepositoryPaths): string {
  makeCacheDirectory(paths.checkouts);
  const dir = join(paths.checkouts, `${tempPrefix}${uniqueSuffix()}`);
  mkdirSync(dir);
  // A run stopped by a signal mid-fetch leaves nothing behind (once renamed into place, there is nothing here to remove).
  removeOnExit(dir);
  return dir;
}

/**
 * Leftovers a killed process can leave, by directory: each pattern captures
 * the pid that uniqueSuffix() put at the front of the name's unique part.
 */
function leftoverPatterns(paths: RepositoryPaths): [string, RegExp[]][] {
  return [
    [paths.checkouts, [/^\.tmp-(\d+)-/, /\.json\.(\d+)-[^/]*\.tmp$/]],
    // lock.<pid>-….tmp, lock.stale-<pid>-….tmp (file-lock.ts), and the lock directories of earlier versions.
    [paths.root, [/^lock\.(?:[a-z]+-)?(\d+)-/, /^repo\.git\.tmp-(\d+)-/, /^refs\.json\.(\d+)-[^/]*\.tmp$/]],
    [join(paths.bare, "refs", "tsexec"), [/^(\d+)-/]],
  ];
}

/** Removes temporary checkouts, files, refs and lock candidates left by processes that died (called under the lock). */
export function removeStaleTemporaries(paths: RepositoryPaths): void {
  for (const [dir, patterns] of leftoverPatterns(paths)) removeLeftoversOfDeadProcesses(dir, patterns);
}
