/**
 * What `tsexec gc` finds in a cache directory: one entry per thing it may
 * remove, with its last-use time (base/last-use.ts), the lock a process
 * holds while it makes or changes it, the paths removing it takes (the first
 * one makes it invalid, so a removal killed half-way leaves nothing that
 * looks valid), and what it needs (its references).
 *
 * | entry | paths (first invalidates) | last use | lock |
 * | scripts/<key>.json (a transpile manifest) | the manifest | its mtime | none |
 * | scripts/<module output> | the file, its .map | its mtime | none |
 * | inputs/<key>.json (an inputs memo) | the memo | its mtime | none |
 * | git/<h>/checkouts/<commit>[-nosub] | the checkout, its .json | its mtime | git/<h>/lock |
 * | git/<h> (a repository) | repo.git, refs.json, url, checkouts/ | newest mtime | git/<h>/lock |
 * | store/<name> (a built output) | .valid/<name>, the output | the marker's mtime | builds/<name>.lock |
 * | npm/trees/<h> | the tree | its mtime | none (its lock guards only its making) |
 * | npm/packages/<name> | the package | its mtime | every tree lock |
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export type EntryKind = "script" | "module" | "memo" | "checkout" | "repository" | "output" | "tree" | "package";

export interface Entry {
  readonly kind: EntryKind;
  /** Relative to the cache directory: the entry's key. */
  readonly key: string;
  readonly path: string;
  /** Removed in this order; the first makes the entry invalid. */
  readonly parts: readonly string[];
  /** When a run last used it (ms since the epoch). */
  readonly lastUse: () => number;
  /** The lock a process holds while it creates or changes the entry. */
  readonly lock?: string;
}

const isDir = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
const mtime = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Every entry of the cache, by key. Temporary names (`.tmp-…`, `*.tmp`) and locks are not entries: they belong to running or dead processes and their caches sweep them. */
export function cacheEntries(cacheDir: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const add = (entry: Entry) => entries.set(entry.key, entry);
  const skip = (name: string) => name.startsWith(".") || name.endsWith(".tmp") || name.endsWith(".lock") || name.includes(".lock.");

  const scripts = join(cacheDir, "scripts");
  for (const name of list(scripts)) {
    if (skip(name) || name.endsWith(".map")) continue;
    const path = join(scripts, name);
    if (/^[0-9a-f]{16}\.json$/.test(name)) add({ kind: "script", key: `scripts/${name}`, path, parts: [path], lastUse: () => mtime(path) });
    else add({ kind: "module", key: `scripts/${name}`, path, parts: [path, `${path}.map`], lastUse: () => mtime(path) });
  }

  const memos = join(cacheDir, "inputs");
  for (const name of list(memos)) {
    if (skip(name) || !name.endsWith(".json")) continue;
    const path = join(memos, name);
    add({ kind: "memo", key: `inputs/${name}`, path, parts: [path], lastUse: () => mtime(path) });
  }

  const git = join(cacheDir, "git");
  for (const hash of list(git)) {
    if (!/^[0-9a-f]{32}$/.test(hash)) continue;
    const root = join(git, hash);
    if (!isDir(root)) continue;
    const lock = join(root, "lock");
    const checkouts = join(root, "checkouts");
    const parts = ["repo.git", "refs.json", "url", "checkouts"].map((p) => join(root, p));
    add({
      kind: "repository",
      key: `git/${hash}`,
      path: root,
      parts,
      lock,
      lastUse: () => Math.max(mtime(root), mtime(join(root, "refs.json")), mtime(join(root, "repo.git")), mtime(join(root, "repo.git", "FETCH_HEAD"))),
    });
    for (const name of list(checkouts)) {
      if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})(?:-nosub)?$/.test(name)) continue;
      const path = join(checkouts, name);
      add({ kind: "checkout", key: `git/${hash}/checkouts/${name}`, path, parts: [path, `${path}.json`], lock, lastUse: () => mtime(path) });
    }
  }

  const store = join(cacheDir, "store");
  const valid = new Set(list(join(store, ".valid")));
  for (const name of list(store)) {
    // An output without its marker is no output: the store's own sweep removes it under its lock.
    if (skip(name) || !valid.has(name)) continue;
    const marker = join(store, ".valid", name);
    const path = join(store, name);
    add({ kind: "output", key: `store/${name}`, path, parts: [marker, path], lock: join(cacheDir, "builds", `${name}.lock`), lastUse: () => mtime(marker) });
  }

  const trees = join(cacheDir, "npm", "trees");
  for (const name of list(trees)) {
    if (!/^[0-9a-f]{32}$/.test(name)) continue;
    const path = join(trees, name);
    // No lock: a tree's lock guards only its making (in a `.tmp-` directory, renamed into place whole), and a
    // finished tree is used without it, so taking it would protect nothing (its last use, read again, does).
    add({ kind: "tree", key: `npm/trees/${name}`, path, parts: [path], lastUse: () => mtime(path) });
  }
  const packages = join(cacheDir, "npm", "packages");
  for (const name of list(packages)) {
    if (skip(name)) continue;
    const path = join(packages, name);
    add({ kind: "package", key: `npm/packages/${name}`, path, parts: [path], lastUse: () => mtime(path) });
  }
  return entries;
}

/** The key of the entry `path` lies in (a path anywhere inside it), if it lies in one of `cacheDir`. */
export function entryKeyOf(cacheDir: string, path: string): string | undefined {
  if (!path.startsWith(`${cacheDir}/`)) return undefined;
  const parts = path.slice(cacheDir.length + 1).split("/");
  if (parts.includes("..")) return undefined;
  switch (parts[0]) {
    case "scripts":
    case "inputs":
    case "store":
      return parts[1] === undefined ? undefined : `${parts[0]}/${parts[1]}`;
    case "git":
      if (parts[1] === undefined) return undefined;
      if (parts[2] === "checkouts" && parts[3] !== undefined) return `git/${parts[1]}/checkouts/${parts[3].replace(/\.json$/, "")}`;
      return `git/${parts[1]}`;
    case "npm":
      return parts[1] !== undefined && parts[2] !== undefined ? `npm/${parts[1]}/${parts[2]}` : undefined;
    default:
      return undefined;
  }
}
