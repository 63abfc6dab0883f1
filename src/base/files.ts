/**
 * File operations the caches share (transpiled scripts, the build store,
 * fetched checkouts): nothing is ever left half-written, and read-only trees
 * can still be removed.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { TsexecError } from "./errors.js";
import { isAlive } from "./processes.js";

let counter = 0;

/** A name part no other process, and no other call in this one, picks: pid, time, counter, randomness. */
export function uniqueSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${counter++}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * `mkdir -p` that fails rather than hangs: Node's `mkdirSync(dir, { recursive: true })`
 * loops for ever where mkdir answers ENOENT below a directory that exists
 * (`/proc/self/x`). Throws the errno error of the directory it could not make.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    let stat;
    try {
      stat = statSync(at);
    } catch {
      stat = undefined; // missing, or unreachable (ENOTDIR, EACCES): mkdir below says which
    }
    if (stat?.isDirectory()) break;
    missing.push(at); // not a directory: mkdir below fails on it (EEXIST), naming it
    if (stat !== undefined || dirname(at) === at) break;
  }
  for (const at of missing.reverse()) {
    try {
      mkdirSync(at);
    } catch (error) {
      // Made meanwhile by another process: fine, if it is a directory.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(at, { throwIfNoEntry: false })?.isDirectory()) throw error;
    }
  }
}

/** Writes `file` whole or not at all: a temporary file beside it, then a rename. */
export function writeFileAtomic(file: string, text: string | Uint8Array): void {
  const temp = `${file}.${uniqueSuffix()}.tmp`;
  try {
    writeFileSync(temp, text);
    renameSync(temp, file);
  } catch (error) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // The temporary file was never made (its directory is missing or not one).
    }
    throw error;
  }
}

/**
 * Makes a tree read-only: files lose their write bits (keeping execute bits),
 * directories too, after their contents. `includeTop: false` leaves the top
 * directory writable (it is still to be renamed into place).
 */
export function makeReadOnly(path: string, includeTop = true): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    for (const name of readdirSync(path)) makeReadOnly(join(path, name));
    if (includeTop) chmodSync(path, 0o555);
  } else {
    chmodSync(path, stat.mode & 0o111 ? 0o555 : 0o444);
  }
}

/** `rm -rf`, also for read-only trees (finished outputs, or what a killed process left). */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    makeDirectoriesWritable(path);
    rmSync(path, { recursive: true, force: true });
  }
}

/** Removing an entry needs write permission on its directory only. */
function makeDirectoriesWritable(path: string): void {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) return;
  chmodSync(path, 0o755);
  for (const name of readdirSync(path)) makeDirectoriesWritable(join(path, name));
}

/** makeDirectory, failing with a TsexecError worded by `message(dir, code)` for the directory it could not make. */
export function makeDirectories(path: string, message: (dir: string, code: string) => string): void {
  try {
    makeDirectory(path);
  } catch (error) {
    const { code, path: at } = error as NodeJS.ErrnoException;
    throw new TsexecError(message(at ?? path, code ?? "error"));
  }
}

/**
 * Removes the entries of `dir` left by processes that are gone: a name one of
 * `patterns` matches carries, in its first group, the pid uniqueSuffix() put
 * there. Every cache sweeps its temporaries this way, whatever it stores.
 */
export function removeLeftoversOfDeadProcesses(dir: string, patterns: readonly RegExp[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no such directory yet
  }
  for (const name of names) {
    let pid = 0;
    for (const pattern of patterns) {
      const found = pattern.exec(name)?.[1];
      if (found !== undefined) {
        pid = Number(found);
        break;
      }
    }
    if (pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    try {
      removeTree(join(dir, name));
    } catch {
      // Gone already, or not ours to remove: the next sweep tries again.
    }
  }
}
