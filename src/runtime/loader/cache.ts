/**
 * The transpile cache. A manifest per entry script records the modules its
 * output was made from and the size of each output written; a warm run reads
 * it, checks its shape, stats each source and each output, and imports the
 * cached output (no transpiler, no hashing of contents).
 *
 *     <cache>/scripts/<key>.json          manifest of an entry script
 *     <cache>/scripts/<key>-<name>.mjs    one transpiled module (and its .map)
 *
 * Cache files may be damaged (a full disk, a killed process, a user's
 * editor) or crafted: a manifest of the wrong shape, or an output missing or
 * of another size than written, is reported once and rebuilt, never used.
 */
import { readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { makeDirectory, removeLeftoversOfDeadProcesses, writeFileAtomic } from "../../base/files.js";
import type { InputsDeclaration } from "./inputs-declaration.js";

/** `[path, mtimeMs, size]` of a source when it was transpiled. */
export type SourceStamp = [path: string, mtimeMs: number, size: number];
/** `[path, size in bytes]` of an output as it was written. */
export type OutputStamp = [path: string, size: number];

export interface Manifest {
  /** tsexec's version: another version's output is not reused. */
  readonly version: string;
  readonly entry: string;
  readonly output: string;
  readonly sources: SourceStamp[];
  /** Every module output the entry's output imports (its own included), in `scripts/`. */
  readonly outputs: OutputStamp[];
  /** The entry's static `inputs` declaration (src/runtime/loader/inputs-declaration.ts), read while transpiling: warm runs get it free. */
  readonly inputs?: InputsDeclaration;
}

/** FNV-1a, 2 x 32 bits: a cheap cache key (manifests re-check the path they are for). */
export function pathKey(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

export function manifestFile(scriptsDir: string, entry: string): string {
  return join(scriptsDir, `${pathKey(entry)}.json`);
}

/**
 * Where a module's output goes. `salt` gives a graph new names (and so new
 * URLs): Node remembers a module that failed to parse by its URL for the rest
 * of the process, so a repaired output must be imported under another.
 */
export function outputFile(scriptsDir: string, source: string, ext: string, salt = ""): string {
  // The name is for people reading the cache; the key makes it unique. Node refuses file URLs with an encoded `\`.
  const name = basename(source).replace(/\.[^.]*$/, "").replace(/[^\w.-]/g, "_");
  return join(scriptsDir, `${pathKey(salt + source)}-${name}${ext}`);
}

/** What the cache holds for an entry script. */
export type Lookup =
  | { readonly kind: "fresh"; readonly manifest: Manifest }
  /** Nothing, or made from other sources or by another version: transpile. */
  | { readonly kind: "stale" }
  /** A cache file that cannot be what tsexec wrote: say so, remove it, transpile. */
  | { readonly kind: "damaged"; readonly file: string; readonly why: string };

/** The cached manifest for `entry` if its sources are unchanged and its outputs are as written. */
export function lookupManifest(scriptsDir: string, entry: string, version: string): Lookup {
  const file = manifestFile(scriptsDir, entry);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // No cache yet (ENOTDIR: the cache directory is no directory, which writing it will report).
    return code === "ENOENT" || code === "ENOTDIR" ? { kind: "stale" } : { kind: "damaged", file, why: `it cannot be read (${code})` };
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    return { kind: "damaged", file, why: "it is not valid JSON" };
  }
  if (!isManifest(manifest, scriptsDir)) {
    return isEarlierManifest(manifest) ? { kind: "stale" } : { kind: "damaged", file, why: "it is not a manifest tsexec writes" };
  }
  if (manifest.version !== version || manifest.entry !== entry) return { kind: "stale" };
  for (const [path, mtimeMs, size] of manifest.sources) {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat === undefined || stat.mtimeMs !== mtimeMs || stat.size !== size) return { kind: "stale" };
  }
  for (const [path, size] of manifest.outputs) {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return { kind: "damaged", file: path, why: "it is missing" };
    if (stat.size !== size) return { kind: "damaged", file: path, why: `it has ${stat.size} bytes where ${size} were written` };
  }
  return { kind: "fresh", manifest };
}

/** The shape writeManifest writes, with every output a file directly in `scriptsDir` (a crafted one points nowhere else). */
function isManifest(value: unknown, scriptsDir: string): value is Manifest {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  if (typeof m.version !== "string" || typeof m.entry !== "string" || typeof m.output !== "string") return false;
  if (!Array.isArray(m.sources) || !Array.isArray(m.outputs)) return false;
  const isSource = (s: unknown) =>
    Array.isArray(s) && s.length === 3 && typeof s[0] === "string" && typeof s[1] === "number" && typeof s[2] === "number";
  const isOutput = (o: unknown) => Array.isArray(o) && o.length === 2 && isCacheFile(o[0], scriptsDir) && Number.isSafeInteger(o[1]);
  return (
    m.sources.every(isSource) &&
    m.outputs.every(isOutput) &&
    m.outputs.some((o: OutputStamp) => o[0] === m.output) &&
    (m.inputs === undefined || isInputsDeclaration(m.inputs))
  );
}

/** The `inputs` a manifest keeps: name → { spec: string | { url, ... }, line }. */
export function isInputsDeclaration(value: unknown): value is InputsDeclaration {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((d: unknown) => {
    if (typeof d !== "object" || d === null) return false;
    const { spec, line } = d as { spec?: unknown; line?: unknown };
    if (!Number.isSafeInteger(line)) return false;
    return typeof spec === "string" || (typeof spec === "object" && spec !== null && typeof (spec as { url?: unknown }).url === "string");
  });
}

/** A manifest from before outputs were recorded: not damaged, only to be rewritten. */
function isEarlierManifest(value: unknown): boolean {
  const m = value as Record<string, unknown> | null;
  return typeof m === "object" && m !== null && typeof m.version === "string" && Array.isArray(m.sources) && !("outputs" in m);
}

/** A path naming a file directly in `scriptsDir`. */
export function isCacheFile(path: unknown, scriptsDir: string): path is string {
  return typeof path === "string" && dirname(path) === scriptsDir && !basename(path).startsWith(".");
}

/** Removes an entry's manifest and one damaged file of it (only ever a file in `scriptsDir`). */
export function discardEntry(scriptsDir: string, entry: string, damaged?: string): void {
  for (const file of [manifestFile(scriptsDir, entry), damaged, damaged && `${damaged}.map`]) {
    if (file === undefined || !isCacheFile(file, scriptsDir)) continue;
    try {
      rmSync(file, { force: true });
    } catch {
      // A directory where a file belongs, or no permission: the rewrite below reports what matters.
    }
  }
}

/** Writes a cache file whole or not at all; a cache directory that cannot be written is for the user to fix. */
export function writeCacheFile(file: string, text: string): void {
  try {
    makeDirectory(dirname(file));
    try {
      writeFileAtomic(file, text);
    } catch (error) {
      // Our temporary file swept by a run that took it for a dead process's (a pid of another namespace): once more.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      writeFileAtomic(file, text);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new TsexecError(
      `cannot write to the cache directory ${dirname(file)} (${code}): make it writable, or choose another with --cache-dir or $TSEXEC_CACHE_DIR`,
    );
  }
}

export function writeManifest(scriptsDir: string, manifest: Manifest): void {
  writeCacheFile(manifestFile(scriptsDir, manifest.entry), JSON.stringify(manifest));
}

/** writeFileAtomic's temporary files: `<file>.<pid>-<time>-<counter>-<random>.tmp`. */
const temporaryName = /\.(\d+)-[0-9a-z]+-\d+-[0-9a-z]*\.tmp$/;

/** Removes the temporary files that processes no longer running left in `scriptsDir` (killed mid-write). */
export function sweepTemporaryFiles(scriptsDir: string): void {
  removeLeftoversOfDeadProcesses(scriptsDir, [temporaryName]);
}
