/**
 * `tsexec.lock`: one per directory, shared by npm specifiers and git inputs
 * (format: docs/lock.md). Read strictly (a lock is security-relevant: every
 * unknown or ill-typed field is an error naming the file, the line and the
 * entry), written canonically (sorted keys, two spaces, final newline) and
 * atomically, only when its content changed, and under a lock (updateLock).
 *
 * Base helper: imports only errors, files, file-lock, lock-path, bounded-read and printable.
 */
import { statSync } from "node:fs";
import { readBounded } from "./bounded-read.js";
import { TsexecError } from "./errors.js";
import { printable } from "./printable.js";
import { acquireLockSync, type Release } from "./file-lock.js";
import { removeLeftoversOfDeadProcesses, writeFileAtomic } from "./files.js";
import { lockPath } from "./lock-path.js";

export { lockFileName, lockPath } from "./lock-path.js";
export const lockVersion = 1;

export interface NpmLockPackage {
  /** SRI hash of the tarball (`sha512-…`). */
  readonly integrity: string;
  /** Dependency name → the `name@version` key it resolved to. */
  readonly dependencies: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
  readonly libc?: readonly string[];
  readonly hasInstallScript?: true;
}

export interface NpmLockSection {
  /** `name@range` as written (bare `name` without a range) → `name@version`. */
  readonly specifiers: Readonly<Record<string, string>>;
  readonly packages: Readonly<Record<string, NpmLockPackage>>;
}

export interface InputLockEntry {
  /** The input as declared: its reference string, or the object form's url. */
  readonly source: string;
  readonly url: string;
  readonly ref?: string;
  readonly submodules: boolean;
  readonly rev: string;
  /** Content hash in docs/git.md's canonical form (`sha256-<base64>`). */
  readonly hash: string;
  /** ISO 8601, UTC; informational. */
  readonly lockedAt: string;
}

export interface LockFile {
  readonly version: typeof lockVersion;
  readonly npm?: NpmLockSection;
  /** Script file (relative to the lock's directory, `/`-separated) → input name → entry. */
  readonly inputs?: Readonly<Record<string, Readonly<Record<string, InputLockEntry>>>>;
}

/** The lock in `dir`, validated; undefined when there is none. Throws TsexecError on a corrupt or future lock. */
export function readLock(dir: string): LockFile | undefined {
  const text = readLockText(dir);
  return text === undefined ? undefined : parseLock(text, lockPath(dir));
}

function readLockText(dir: string): string | undefined {
  const file = lockPath(dir);
  // The directory may be a clone or a checkout: the lock may be a FIFO, a link to /dev/zero, huge.
  const read = readBounded(file);
  if (read.kind === "text") return read.text;
  if (read.kind === "absent") return undefined;
  throw new TsexecError(`cannot read ${printable(file)}: it is ${read.why}: replace it with a regular file, or remove it to lock again`);
}

/** Parses and validates the text of a lock file (`file` names it in errors). */
export function parseLock(text: string, file: string): LockFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    const where = position === undefined ? file : `${file}:${lineOf(text, Number(position))}`;
    throw new TsexecError(`${where}: the lock file is not valid JSON: fix it, or remove it and run again to lock anew`);
  }
  return new LockValidator(text, file).lock(value);
}

/** The lock's canonical text: keys sorted at every level, two spaces, a final newline. */
export function serializeLock(lock: LockFile): string {
  return `${JSON.stringify(sortKeys(lock), null, 2)}\n`;
}

export type LockWriteStatus = "written" | "unchanged" | "read-only";

/**
 * Changes the lock in `dir` to `update(current)` (undefined: leave it).
 * Several tsexec processes may write one directory's lock at once (npm
 * entries, each script's inputs): the read, the change and the write happen
 * under `<dir>/tsexec.lock.lock` (file-lock.ts), so each keeps what the others
 * wrote. `update` may run twice (first without the lock, to see whether
 * anything changes at all) and must do nothing else. Resolves to "written",
 * "unchanged", or "read-only" when the directory cannot be written (a git
 * checkout; nothing is created there): callers warn then, as for an unpinned
 * reference. `log` gets the lines of a long wait for another writer.
 */
export function updateLock(dir: string, update: (current: LockFile | undefined) => LockFile | undefined, log: (line: string) => void): LockWriteStatus {
  const file = lockPath(dir);
  if (changedText(dir, update) === undefined) return "unchanged";
  if (isReadOnlyDirectory(dir)) return "read-only";
  let release: Release;
  try {
    release = acquireLockSync(`${file}.lock`, { what: `the update of ${file} by another tsexec`, log });
  } catch (error) {
    return readOnlyOrThrow(error, file);
  }
  try {
    const text = changedText(dir, update);
    if (text === undefined) return "unchanged";
    writeFileAtomic(file, text);
    removeLeftoversOfDeadProcesses(dir, [leftovers]);
    return "written";
  } catch (error) {
    return readOnlyOrThrow(error, file);
  } finally {
    release();
  }
}

/** What a killed writer can leave: `tsexec.lock.<pid>-….tmp`, and its lock's leftovers (file-lock.ts). */
const leftovers = /^tsexec\.lock\.(?:lock\.(?:stale-)?)?(\d+)-[^/]*\.tmp$/;

/** The canonical text of `update(current lock)` if it differs from the file's text. */
function changedText(dir: string, update: (current: LockFile | undefined) => LockFile | undefined): string | undefined {
  const text = readLockText(dir);
  const next = update(text === undefined ? undefined : parseLock(text, lockPath(dir)));
  const nextText = next === undefined ? undefined : serializeLock(next);
  if (nextText === text) return undefined;
  // Nothing the reader would refuse is ever written: a crafted registry answer stops here, not at the next run.
  if (nextText !== undefined) parseLock(nextText, lockPath(dir));
  return nextText;
}

/** A directory tsexec must not write a lock into: no write bit (a checkout, a read-only tree; root ignores modes). */
export function isReadOnlyDirectory(dir: string): boolean {
  try {
    return (statSync(dir).mode & 0o222) === 0;
  } catch {
    return true;
  }
}

function readOnlyOrThrow(error: unknown, file: string): "read-only" {
  if (error instanceof TsexecError) throw error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") return "read-only";
  throw new TsexecError(`cannot write ${file} (${code ?? String(error)})`);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined) out[key] = sortKeys(field);
  }
  return out;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

const fullCommit = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const sriSha256 = /^sha256-[A-Za-z0-9+/]{43}=$/;
const sriAny = /^(sha1|sha256|sha384|sha512)-[A-Za-z0-9+/]+=*$/;
// A version is exactly a semantic version's characters: it names a store directory (no `/`, no `..` alone, no control characters).
const packageKey = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*@[0-9A-Za-z+-][0-9A-Za-z.+-]*$/i;

/** Checks a parsed lock field by field; errors name the file, the line of the entry and its JSON path. */
class LockValidator {
  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  private fail(path: readonly string[], problem: string): never {
    const key = path[path.length - 1];
    const at = key === undefined ? -1 : this.text.indexOf(JSON.stringify(key));
    const where = at < 0 ? this.file : `${this.file}:${lineOf(this.text, at)}`;
    const entry = path.length === 0 ? "" : ` ${path.map((p) => JSON.stringify(p)).join(".")}`;
    throw new TsexecError(`${where}:${entry} ${problem}: fix it, or remove the entry (or the file) and run again to lock anew`);
  }

  private object(value: unknown, path: readonly string[]): Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) this.fail(path, "must be an object");
    return value as Record<string, unknown>;
  }

  private only(record: Record<string, unknown>, path: readonly string[], allowed: readonly string[]): void {
    for (const key of Object.keys(record)) if (!allowed.includes(key)) this.fail([...path, key], `is not a field tsexec knows (known: ${allowed.join(", ")})`);
  }

  private string(value: unknown, path: readonly string[], pattern?: RegExp): string {
    if (typeof value !== "string" || value === "" || (pattern && !pattern.test(value))) {
      this.fail(path, pattern ? `must be a string matching ${pattern}` : "must be a non-empty string");
    }
    return value as string;
  }

  private strings(value: unknown, path: readonly string[]): string[] {
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) this.fail(path, "must be an array of strings");
    return value as string[];
  }

  private stringMap(value: unknown, path: readonly string[], values: RegExp): Record<string, string> {
    const record = this.object(value, path);
    for (const [key, v] of Object.entries(record)) this.string(v, [...path, key], values);
    return record as Record<string, string>;
  }

  lock(value: unknown): LockFile {
    const root = this.object(value, []);
    if (root.version !== lockVersion) {
      if (typeof root.version === "number" && root.version > lockVersion) {
        throw new TsexecError(
          `${this.file}: lock format version ${root.version} is newer than this tsexec understands (${lockVersion}): upgrade tsexec; the file was left as it is`,
        );
      }
      this.fail(["version"], `must be ${lockVersion}`);
    }
    this.only(root, [], ["version", "npm", "inputs"]);
    if (root.npm !== undefined) this.npm(root.npm);
    if (root.inputs !== undefined) this.inputs(root.inputs);
    return root as unknown as LockFile;
  }

  private npm(value: unknown): void {
    const npm = this.object(value, ["npm"]);
    this.only(npm, ["npm"], ["specifiers", "packages"]);
    this.stringMap(npm.specifiers ?? {}, ["npm", "specifiers"], packageKey);
    const packages = this.object(npm.packages ?? {}, ["npm", "packages"]);
    for (const [key, entry] of Object.entries(packages)) {
      const path = ["npm", "packages", key];
      if (!packageKey.test(key)) this.fail(path, "is not a name@version key");
      const pkg = this.object(entry, path);
      this.only(pkg, path, ["integrity", "dependencies", "optionalDependencies", "os", "cpu", "libc", "hasInstallScript"]);
      this.string(pkg.integrity, [...path, "integrity"], sriAny);
      this.stringMap(pkg.dependencies ?? {}, [...path, "dependencies"], packageKey);
      if (pkg.optionalDependencies !== undefined) this.stringMap(pkg.optionalDependencies, [...path, "optionalDependencies"], packageKey);
      if (pkg.os !== undefined) this.strings(pkg.os, [...path, "os"]);
      if (pkg.cpu !== undefined) this.strings(pkg.cpu, [...path, "cpu"]);
      if (pkg.libc !== undefined) this.strings(pkg.libc, [...path, "libc"]);
      if (pkg.hasInstallScript !== undefined && pkg.hasInstallScript !== true) this.fail([...path, "hasInstallScript"], "must be true when present");
    }
  }

  private inputs(value: unknown): void {
    const scripts = this.object(value, ["inputs"]);
    for (const [script, inputs] of Object.entries(scripts)) {
      const scriptPath = ["inputs", script];
      if (script.startsWith("/") || script.split("/").includes("..")) this.fail(scriptPath, "must be a script path inside the lock's directory");
      for (const [name, entry] of Object.entries(this.object(inputs, scriptPath))) {
        const path = [...scriptPath, name];
        const input = this.object(entry, path);
        this.only(input, path, ["source", "url", "ref", "submodules", "rev", "hash", "lockedAt"]);
        this.string(input.source, [...path, "source"]);
        this.string(input.url, [...path, "url"]);
        if (input.ref !== undefined) this.string(input.ref, [...path, "ref"]);
        if (typeof input.submodules !== "boolean") this.fail([...path, "submodules"], "must be true or false");
        this.string(input.rev, [...path, "rev"], fullCommit);
        this.string(input.hash, [...path, "hash"], sriSha256);
        this.string(input.lockedAt, [...path, "lockedAt"]);
      }
    }
  }
}
