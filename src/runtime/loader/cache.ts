/**
 * The transpile cache. A manifest per entry script records the modules its
 * output was made from; a warm run reads it, stats each source and imports
 * the cached output (no transpiler, no hashing of contents).
 *
 *     <cache>/scripts/<key>.json          manifest of an entry script
 *     <cache>/scripts/<key>-<name>.mjs    one transpiled module
 */
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TsexecError } from "../errors.js";
import { writeFileAtomic } from "../files.js";

/** `[path, mtimeMs, size]` of a source when it was transpiled. */
export type SourceStamp = [path: string, mtimeMs: number, size: number];

export interface Manifest {
  /** tsexec's version: another version's output is not reused. */
  readonly version: string;
  readonly entry: string;
  readonly output: string;
  readonly sources: SourceStamp[];
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

export function outputFile(scriptsDir: string, source: string, ext: string): string {
  // The name is only for people reading the cache (the key is unique): characters a file URL would escape ('\\', '%', '#', spaces) become '_'.
  const name = basename(source).replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9._+-]/g, "_");
  return join(scriptsDir, `${pathKey(source)}-${name}${ext}`);
}

/** The cached manifest for `entry` if every source is unchanged, else undefined. */
export function freshManifest(scriptsDir: string, entry: string, version: string): Manifest | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile(scriptsDir, entry), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
  if (manifest.version !== version || manifest.entry !== entry) return undefined;
  for (const [path, mtimeMs, size] of manifest.sources) {
    try {
      const stat = statSync(path);
      if (stat.mtimeMs !== mtimeMs || stat.size !== size) return undefined;
    } catch {
      return undefined;
    }
  }
  return manifest;
}

/** Writes a cache file whole or not at all; a cache directory that cannot be written is for the user to fix. */
export function writeCacheFile(file: string, text: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, text);
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
