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
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { TsexecError } from "../../runtime/errors.js";
// uniqueSuffix() leads with the pid, so leftovers of dead processes are recognised.
import { removeTree, uniqueSuffix, writeFileAtomic } from "../../runtime/files.js";
import { isAlive, processStart } from "../../runtime/processes.js";
import { sha256Hex } from "./sha256.js";

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

export interface CheckoutMetadata {
  readonly commit: string;
  /** `sha256-<base64>` of the content in the canonical form of hash.ts. */
  readonly contentHash: string;
}

export function readMetadata(checkout: string): CheckoutMetadata | undefined {
  try {
    return JSON.parse(readFileSync(`${checkout}.json`, "utf8")) as CheckoutMetadata;
  } catch {
    return undefined;
  }
}

// ---- resolutions of moving refs (branches, tags, HEAD) ----

export interface Resolution {
  readonly commit: string;
  /** When the rev was last resolved against the remote (ms since the epoch). */
  readonly resolvedAt: number;
}

export function readResolutions(paths: RepositoryPaths): Record<string, Resolution> {
  try {
    return JSON.parse(readFileSync(paths.refs, "utf8")) as Record<string, Resolution>;
  } catch {
    return {};
  }
}

export function recordResolution(paths: RepositoryPaths, rev: string, commit: string): void {
  const all = readResolutions(paths);
  all[rev] = { commit, resolvedAt: Date.now() };
  writeFileAtomic(paths.refs, JSON.stringify(all, null, 1));
}

// ---- locks ----

interface LockOwner {
  /** The candidate directory's suffix: tells this owner's lock from a later one. */
  readonly id: string;
  readonly pid: number;
  /** The process's start time (Linux /proc), so a reused pid is not taken for the owner. */
  readonly start: string | undefined;
  readonly host: string;
  readonly since: number;
}

/** Locks this process holds, with how many times (a submodule may be the same repository). */
const held = new Map<string, { count: number; id: string }>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes the lock of a repository: a directory with `owner.json`, created
 * beside `lock` and renamed onto it, so the lock never exists without its
 * owner. A lock whose owner process is gone (killed) is taken over.
 */
export async function acquireLock(
  paths: RepositoryPaths,
  what: string,
  onWait: (line: string) => void = () => {},
  timeoutMs = 600_000,
): Promise<() => void> {
  const mine = held.get(paths.lock);
  if (mine !== undefined) {
    mine.count++;
    return () => releaseLock(paths);
  }
  mkdirSync(paths.root, { recursive: true });
  const started = Date.now();
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const id = uniqueSuffix();
    const candidate = `${paths.lock}.${id}`;
    mkdirSync(candidate);
    const owner: LockOwner = { id, pid: process.pid, start: processStart(process.pid), host: hostname(), since: Date.now() };
    writeFileSync(join(candidate, "owner.json"), JSON.stringify(owner));
    try {
      renameSync(candidate, paths.lock);
      held.set(paths.lock, { count: 1, id });
      return () => releaseLock(paths);
    } catch (error) {
      rmSync(candidate, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    }
    if (breakStaleLock(paths)) continue;
    if (delay === 10) onWait(`waiting for another tsexec fetching ${what} (lock ${paths.lock})`);
    if (Date.now() - started > timeoutMs) {
      throw new TsexecError(
        `fetchgit: timed out waiting for the lock on ${what} (${paths.lock}); if no tsexec is fetching it, remove that directory`,
      );
    }
    await sleep(delay);
  }
}

function releaseLock(paths: RepositoryPaths): void {
  const mine = held.get(paths.lock);
  if (mine === undefined) return;
  if (--mine.count > 0) return;
  held.delete(paths.lock);
  // Only our own lock: renamed away first so nobody sees a half-removed lock.
  if (readOwner(paths.lock)?.id !== mine.id) return;
  const gone = `${paths.lock}.released-${uniqueSuffix()}`;
  try {
    renameSync(paths.lock, gone);
    rmSync(gone, { recursive: true, force: true });
  } catch {
    // Gone already.
  }
}

function readOwner(lock: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(join(lock, "owner.json"), "utf8")) as LockOwner;
  } catch {
    return undefined;
  }
}

/**
 * Removes the lock if its owner is a dead process on this host; true if it did.
 * The stale lock is moved to a name made from its owner's id, so of several
 * waiters breaking it only one succeeds; one that moved a newer, live lock by
 * mistake (it read the old owner just before) puts it back.
 */
function breakStaleLock(paths: RepositoryPaths): boolean {
  const owner = readOwner(paths.lock);
  if (owner === undefined) return false; // released meanwhile: try again
  if (owner.host !== hostname() || ownerAlive(owner)) return false;
  const stale = `${paths.lock}.stale-${owner.id}`;
  try {
    renameSync(paths.lock, stale);
  } catch {
    return true; // another waiter broke it first
  }
  if (readOwner(stale)?.id !== owner.id) {
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

function ownerAlive(owner: LockOwner): boolean {
  if (!isAlive(owner.pid)) return false;
  const start = processStart(owner.pid);
  return owner.start === undefined || start === undefined || start === owner.start;
}

// ---- temporary directories ----

const tempPrefix = ".tmp-";

export function makeTempCheckout(paths: RepositoryPaths): string {
  mkdirSync(paths.checkouts, { recursive: true });
  const dir = join(paths.checkouts, `${tempPrefix}${uniqueSuffix()}`);
  mkdirSync(dir);
  return dir;
}

/** Removes temporary checkouts and lock candidates left by processes that died (called under the lock). */
export function removeStaleTemporaries(paths: RepositoryPaths): void {
  for (const [dir, prefix] of [
    [paths.checkouts, tempPrefix],
    [paths.root, "lock."],
    [paths.root, "repo.git.tmp-"],
  ] as const) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const pid = Number(/^\D*(\d+)-/.exec(name.slice(prefix.length))?.[1]);
      if (pid && pid !== process.pid && !isAlive(pid)) removeTree(join(dir, name));
    }
  }
}
