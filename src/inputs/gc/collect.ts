/**
 * `tsexec gc`: which cache entries nothing needs, and their removal
 * (docs/gc.md). Like Nix's collector: roots, then everything they reach, and
 * the rest goes. Roots are
 *
 * - entries used within `maxAgeMs` (their last-use mark, base/last-use.ts);
 * - what every profile generation's apps need (inputs/profile);
 * - `build --out-link` links (`<cache>/gcroots/auto/*`), and the temporary
 *   roots of running `tsexec shell`s (`<cache>/gcroots/<pid>-….json`);
 * - entries whose lock a live process holds (being made, changed or used).
 *
 * References: a transpile manifest needs its module outputs (and the checkout
 * its script came from); a module output or a built output needs the cache
 * paths written in it (npm trees, store outputs, checkouts: a scan of its
 * bytes, as Nix scans outputs for store hashes); an inputs memo its inputs'
 * checkouts; a checkout its repository. An npm package is needed while a
 * tree that stays holds hard links to its files.
 *
 * Removal, entry by entry under the entry's lock: each path is renamed into
 * `<cache>/.trash/` (the first one makes the entry invalid), then the trash is
 * deleted. A gc killed half-way leaves entries either whole or invalid, and
 * trash the next gc deletes.
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { lockState, tryLock, type Release } from "../../base/file-lock.js";
import { removeLeftoversOfDeadProcesses, removeTree, uniqueSuffix } from "../../base/files.js";
import { isAlive } from "../../base/processes.js";
import { TsexecError } from "../../base/errors.js";
import { printable } from "../../base/printable.js";
import { cacheEntries, entryKeyOf, type Entry } from "./entries.js";

export interface GcOptions {
  readonly cacheDir: string;
  readonly maxAgeMs: number;
  readonly dryRun: boolean;
  /** Cache paths a profile needs (every generation of it). */
  readonly profileRoots: readonly string[];
  readonly now?: number;
}

export interface Removal {
  readonly entry: Entry;
  /** Bytes freed by this entry: content whose every hard link goes, each inode counted once in the whole run. */
  readonly bytes: number;
}

export interface GcResult {
  readonly removed: Removal[];
  readonly bytes: number;
  readonly kept: number;
  /** Entries that were unused but whose lock a process held (in use or being made). */
  readonly busy: number;
}

/** Largest file whose bytes are scanned for references; bigger ones are taken as referring to nothing. */
const scanLimit = 64 << 20;
/** A module output no manifest names yet may belong to a transpile running now (outputs are written before the manifest). */
const orphanGraceMs = 10 * 60_000;

export function collectGarbage(options: GcOptions): GcResult {
  const cacheDir = realOrSame(options.cacheDir);
  const now = options.now ?? Date.now();
  const cutoff = now - options.maxAgeMs;
  const trashRoot = join(cacheDir, ".trash");
  if (!options.dryRun) removeLeftoversOfDeadProcesses(trashRoot, [/^(\d+)-/]);
  const entries = cacheEntries(cacheDir);
  const refs = referenceReader(cacheDir, entries);

  // ---- mark: roots, then everything they reach ----
  const keep = new Set<string>();
  const queue: string[] = [];
  const reach = (key: string | undefined) => {
    if (key === undefined || keep.has(key) || !entries.has(key)) return;
    keep.add(key);
    queue.push(key);
  };
  // Roots may name the cache directory as given (a link to it, a relative path): each is read in the real one.
  const inCache = (path: string) => (path.startsWith(`${options.cacheDir}/`) ? cacheDir + path.slice(options.cacheDir.length) : path);
  const roots = [...options.profileRoots, ...linkRoots(cacheDir, options.dryRun), ...shellRoots(cacheDir), ...buildInputRoots(cacheDir)];
  for (const root of roots) reach(entryKeyOf(cacheDir, inCache(root)));
  const busy = new Set<string>();
  for (const entry of entries.values()) {
    const used = entry.lastUse();
    const recent = used >= cutoff || (entry.kind === "module" && used >= now - orphanGraceMs);
    if (recent) reach(entry.key);
    else if (entry.lock !== undefined && lockState(entry.lock).kind === "held") {
      busy.add(entry.key);
      reach(entry.key);
    }
  }
  for (let key = queue.pop(); key !== undefined; key = queue.pop()) for (const ref of refs(entries.get(key)!)) reach(ref);

  // A repository goes only with all of its checkouts.
  for (const entry of entries.values()) {
    if (entry.kind === "checkout" && keep.has(entry.key)) reach(entry.key.slice(0, entry.key.indexOf("/checkouts/")));
  }

  // ---- the candidates, and what removing them frees (hard links counted once) ----
  const sizes = new InodeTally();
  const doomed = [...entries.values()].filter((e) => !keep.has(e.key) && e.kind !== "package");
  for (const entry of doomed) for (const part of entry.parts) sizes.walk(entry.key, part);
  // A package is needed while a tree that stays links its files: every link of each file must be in a tree that goes.
  const installing = treeLocksHeld(join(cacheDir, "npm", "trees"));
  for (const entry of entries.values()) {
    if (entry.kind !== "package" || keep.has(entry.key)) continue;
    if (installing) {
      busy.add(entry.key);
      continue;
    }
    if (sizes.unlinkedElsewhere(entry.path)) {
      doomed.push(entry);
      sizes.walk(entry.key, entry.path);
    }
  }
  const perEntry = sizes.freedByOwner();

  // ---- removal ----
  const removed: Removal[] = [];
  let trash: string | undefined;
  // Entries sharing a lock (a repository's checkouts, then the repository) are removed under one taking of it.
  const order = (e: Entry) => `${e.lock ?? ""}\0${e.kind === "repository" ? 1 : 0}`;
  doomed.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  let held: { readonly lock: string; readonly release: Release | undefined } | undefined;
  const releaseHeld = () => {
    held?.release?.();
    held = undefined;
  };
  try {
    for (const entry of doomed) {
      if (options.dryRun) {
        if (entry.lock !== undefined && lockState(entry.lock).kind === "held") busy.add(entry.key);
        else removed.push({ entry, bytes: perEntry.get(entry.key) ?? 0 });
        continue;
      }
      if (entry.lock !== held?.lock) {
        releaseHeld();
        if (entry.lock !== undefined) held = { lock: entry.lock, release: lockIfFree(entry.lock) };
      }
      if (entry.lock !== undefined && held?.release === undefined) {
        busy.add(entry.key);
        continue;
      }
      // Used since it was listed (a run marked it while gc walked): keep it.
      if (entry.lastUse() >= cutoff) continue;
      if (entry.kind === "repository" && hasCheckouts(entry.path)) continue;
      trash ??= makeTrash(trashRoot);
      try {
        moveToTrash(entry, trash);
      } catch (error) {
        const { code, path } = error as NodeJS.ErrnoException;
        throw new TsexecError(`gc cannot remove ${printable(path ?? entry.path)} (${code ?? (error as Error).message}): make the cache directory writable; what was removed so far is in ${printable(trash)}, which the next gc deletes`);
      }
      removed.push({ entry, bytes: perEntry.get(entry.key) ?? 0 });
    }
  } finally {
    releaseHeld();
  }
  if (trash !== undefined) removeTree(trash);
  const bytes = removed.reduce((sum, r) => sum + r.bytes, 0);
  return { removed, bytes, kept: entries.size - removed.length, busy: busy.size };
}

function realOrSame(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Any install lock in the trees directory held by a live process (a tree being made, whose packages are not linked yet). */
function treeLocksHeld(trees: string): boolean {
  let names: string[];
  try {
    names = readdirSync(trees);
  } catch {
    return false;
  }
  return names.some((n) => /^[0-9a-f]{32}\.lock$/.test(n) && lockState(join(trees, n)).kind === "held");
}

function hasCheckouts(root: string): boolean {
  try {
    return readdirSync(join(root, "checkouts")).some((n) => /^[0-9a-f]{40}/.test(n) && !n.endsWith(".json"));
  } catch {
    return false;
  }
}

/** The lock, taken if nobody holds it; its directory is made first (a cache where nothing was built yet has no builds/). */
function lockIfFree(lock: string): Release | undefined {
  mkdirSync(dirname(lock), { recursive: true });
  return tryLock(lock);
}

function makeTrash(trashRoot: string): string {
  mkdirSync(trashRoot, { recursive: true });
  const dir = join(trashRoot, uniqueSuffix());
  mkdirSync(dir);
  return dir;
}

/** Renames each path of the entry into the trash, first the one that makes it invalid. */
function moveToTrash(entry: Entry, trash: string): void {
  entry.parts.forEach((part, i) => {
    const stat = lstatSync(part, { throwIfNoEntry: false });
    if (stat === undefined) return;
    // Moving a directory to another parent rewrites its `..`: it needs its own write bit (read-only outputs and checkouts lack it).
    if (stat.isDirectory() && (stat.mode & 0o200) === 0) chmodSync(part, stat.mode | 0o700);
    renameSync(part, join(trash, `${i}-${entry.kind}-${part.slice(part.lastIndexOf("/") + 1)}`));
  });
}

// ---- roots outside the cache's own entries ----

/** `<cache>/gcroots/auto/<name>`: links to `build --out-link` links; each keeps what its link points to in the store. Dangling ones are removed. */
function linkRoots(cacheDir: string, dryRun: boolean): string[] {
  const dir = join(cacheDir, "gcroots", "auto");
  const out: string[] = [];
  for (const name of safeList(dir)) {
    const root = join(dir, name);
    let target: string | undefined;
    try {
      target = realpathSync(readlinkSync(root));
    } catch {
      target = undefined;
    }
    if (target === undefined) {
      // The out-link was removed: it roots nothing any more.
      if (!dryRun) rmSync(root, { force: true });
      continue;
    }
    out.push(target);
  }
  return out;
}

/** `<cache>/gcroots/<pid>-….json`: `{ "roots": [...] }` written by a running `tsexec shell`, kept while that pid lives. */
function shellRoots(cacheDir: string): string[] {
  const dir = join(cacheDir, "gcroots");
  const out: string[] = [];
  for (const name of safeList(dir)) {
    const m = /^(\d+)-.*\.json$/.exec(name);
    if (!m || !isAlive(Number(m[1]))) continue;
    const value = readJson(join(dir, name)) as { roots?: unknown } | undefined;
    if (Array.isArray(value?.roots)) out.push(...value.roots.filter((r): r is string => typeof r === "string"));
  }
  return out;
}

/** `<cache>/builds/<store-name>.<pid>/inputs`: the outputs a running build reads, while its lock is held. */
function buildInputRoots(cacheDir: string): string[] {
  const builds = join(cacheDir, "builds");
  const out: string[] = [];
  for (const name of safeList(builds)) {
    const m = /^(.+)\.(\d+)$/.exec(name);
    if (!m || lockState(join(builds, `${m[1]}.lock`)).kind !== "held") continue;
    const file = join(builds, name, "inputs");
    const stat = lstatSync(file, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isFile() || stat.size > 1 << 20) continue;
    out.push(...readFileSync(file, "utf8").split("\n").filter(Boolean));
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readJson(file: string): unknown {
  try {
    const stat = lstatSync(file);
    if (!stat.isFile() || stat.size > 16 << 20) return undefined;
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

// ---- references ----

/** What an entry needs, as keys of other entries. */
function referenceReader(cacheDir: string, entries: Map<string, Entry>): (entry: Entry) => string[] {
  const storeByHash = new Map<string, string>();
  for (const entry of entries.values()) {
    if (entry.kind === "output") storeByHash.set(entry.key.slice("store/".length).split("-")[0]!, entry.key);
  }
  const prefixes = [...new Set([cacheDir, pathToFileURL(cacheDir).pathname])].map(escapeRegExp).join("|");
  const pattern = new RegExp(`(?:${prefixes})/(?:store/([0-9a-z]+)-|(npm/trees/[0-9a-f]{32})|(git/[0-9a-f]{32}/checkouts/(?:[0-9a-f]{64}|[0-9a-f]{40})(?:-nosub)?))`, "g");
  const scanText = (text: string, out: Set<string>) => {
    for (const m of text.matchAll(pattern)) {
      const key = m[1] !== undefined ? storeByHash.get(m[1]) : (m[2] ?? m[3]);
      if (key !== undefined) out.add(key);
    }
  };
  const scanFile = (file: string, stat: Stats, out: Set<string>) => {
    if (!stat.isFile() || stat.size > scanLimit) return;
    try {
      scanText(readFileSync(file, "latin1"), out);
    } catch {
      // Unreadable: refers to nothing we can see.
    }
  };
  const scanTree = (path: string, out: Set<string>) => {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return;
    if (stat.isSymbolicLink()) {
      try {
        scanText(readlinkSync(path), out);
      } catch {
        // gone
      }
    } else if (stat.isDirectory()) {
      for (const name of safeList(path)) scanTree(join(path, name), out);
    } else {
      scanFile(path, stat, out);
    }
  };
  return (entry) => {
    const out = new Set<string>();
    const key = (path: unknown) => {
      if (typeof path !== "string") return;
      const k = entryKeyOf(cacheDir, path);
      if (k !== undefined) out.add(k);
    };
    switch (entry.kind) {
      case "script": {
        const manifest = readJson(entry.path) as { entry?: unknown; sources?: unknown; outputs?: unknown } | undefined;
        key(manifest?.entry);
        if (Array.isArray(manifest?.sources)) for (const s of manifest.sources) key(Array.isArray(s) ? s[0] : undefined);
        if (Array.isArray(manifest?.outputs)) for (const o of manifest.outputs) key(Array.isArray(o) ? o[0] : undefined);
        break;
      }
      case "module":
        scanTree(entry.path, out);
        break;
      case "memo": {
        const memo = readJson(entry.path) as { script?: unknown; inputs?: Record<string, { path?: unknown }> } | undefined;
        key(memo?.script);
        for (const input of Object.values(memo?.inputs ?? {})) key(input?.path);
        break;
      }
      case "checkout":
        out.add(entry.key.slice(0, entry.key.indexOf("/checkouts/")));
        break;
      case "output":
        scanTree(entry.path, out);
        break;
      default:
        break;
    }
    out.delete(entry.key);
    return [...out];
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---- sizes ----

/**
 * The bytes a removal frees, with hard links counted once: an inode is freed
 * only when every one of its links is among the removed paths, and its size
 * is counted for the first entry that reached it.
 */
class InodeTally {
  private readonly inodes = new Map<string, { size: number; nlink: number; seen: number; owner: string }>();

  walk(owner: string, path: string): void {
    const stat = lstatSync(path, { throwIfNoEntry: false, bigint: false });
    if (stat === undefined) return;
    const id = `${stat.dev}:${stat.ino}`;
    const known = this.inodes.get(id);
    if (known !== undefined) known.seen++;
    else this.inodes.set(id, { size: stat.size, nlink: stat.isDirectory() ? 1 : stat.nlink, seen: 1, owner });
    if (stat.isDirectory()) for (const name of safeList(path)) this.walk(owner, join(path, name));
  }

  /** True when every regular file under `dir` has no link outside what is already walked. */
  unlinkedElsewhere(dir: string): boolean {
    const check = (path: string): boolean => {
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (stat === undefined) return true;
      if (stat.isDirectory()) return safeList(path).every((name) => check(join(path, name)));
      if (!stat.isFile()) return true;
      const seen = this.inodes.get(`${stat.dev}:${stat.ino}`)?.seen ?? 0;
      return stat.nlink <= 1 + seen;
    };
    return check(dir);
  }

  freedByOwner(): Map<string, number> {
    const out = new Map<string, number>();
    for (const inode of this.inodes.values()) {
      if (inode.seen >= inode.nlink) out.set(inode.owner, (out.get(inode.owner) ?? 0) + inode.size);
    }
    return out;
  }
}

