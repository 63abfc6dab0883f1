/**
 * `tsexec.lock`: one per directory, shared by npm specifiers and git inputs
 * (format: docs/lock.md). Read strictly (a lock is security-relevant: every
 * unknown or ill-typed field is an error naming the file, the line and the
 * entry), written canonically (sorted keys, two spaces, final newline) and
 * atomically, and only when its content changed.
 *
 * Base helper: imports only errors, files and lock-path.
 */
import { readFileSync } from "node:fs";
import { TsexecError } from "./errors.js";
import { writeFileAtomic } from "./files.js";
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
  const file = lockPath(dir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new TsexecError(`cannot read ${file} (${code}): make it readable, or remove it to lock again`);
  }
  return parseLock(text, file);
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

/**
 * Writes `lock` into `dir` if its canonical text differs from what is there.
 * Resolves to "written", "unchanged", or "read-only" when the directory
 * cannot be written (a git checkout): callers warn then, as for an unpinned
 * reference.
 */
export function writeLock(dir: string, lock: LockFile): "written" | "unchanged" | "read-only" {
  const file = lockPath(dir);
  const text = serializeLock(lock);
  let current: string | undefined;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = undefined;
  }
  if (current === text) return "unchanged";
  try {
    writeFileAtomic(file, text);
    return "written";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") return "read-only";
    throw new TsexecError(`cannot write ${file} (${code ?? String(error)})`);
  }
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
const packageKey = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*@[^@\s]+$/i;

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
