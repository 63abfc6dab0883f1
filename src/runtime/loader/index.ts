/**
 * The script loader: from a path as typed to the module's exports.
 * TypeScript goes through the transpile cache (see cache.ts); JavaScript is
 * imported as it is. `lib.import` loads fetched code with the same loader.
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TsexecError } from "../errors.js";
import { dynamicImport } from "../dynamic-import.js";
import { versionString } from "../package.js";
import { freshManifest, manifestFile, writeManifest, type Manifest } from "./cache.js";
import { directoryEntry } from "./resolve.js";
import { mapStacksOf, mapStacksOfCommonJS } from "./source-maps.js";

const javaScriptExtensions = new Set([".js", ".mjs", ".cjs"]);

/** The file a script path stands for: the file itself, or a directory's `default.ts`/`index.ts`. */
export function locateScript(path: string, cwd: string = process.cwd()): string {
  const absolute = resolve(cwd, path);
  let stat;
  try {
    stat = statSync(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file or directory" : `${code}`;
    throw new TsexecError(`cannot find script '${path}': ${why}`);
  }
  if (stat.isDirectory()) {
    const entry = directoryEntry(absolute);
    if (!entry) throw new TsexecError(`'${path}' is a directory with neither default.ts nor index.ts: name the script to run`);
    return realpathSync(entry);
  }
  return realpathSync(absolute);
}

/** Imports the module at `file` (already located), transpiling TypeScript through the cache. */
export async function importModule(file: string, cacheDir: string): Promise<Record<string, unknown>> {
  const scriptsDir = join(cacheDir, "scripts");
  if (javaScriptExtensions.has(extname(file))) {
    // JavaScript runs as it is, unless its imports need tsexec's resolution (npm: specifiers, packages from a lock).
    const commonJS = extname(file) === ".cjs";
    if (commonJS || !(needsPackageResolution(file) || existsSync(manifestFile(scriptsDir, file)))) {
      try {
        return await importJavaScript(file);
      } catch (error) {
        if (commonJS || !isMissingPackage(error)) throw error;
      }
    }
  }
  // Stack traces of scripts point at their .ts lines through the outputs' inline source maps.
  mapStacksOf(scriptsDir);
  const version = versionString();
  const cached = freshManifest(scriptsDir, file, version);
  if (cached) {
    try {
      return await importOutput(cached);
    } catch (error) {
      // A cache entry whose outputs or dependencies went away: transpile again, once.
      if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
    }
  }
  const { transpileGraph } = await import("./transpile.js");
  const manifest = await transpileGraph(file, scriptsDir, version);
  writeManifest(scriptsDir, manifest);
  return importOutput(manifest);
}

/** A JavaScript module whose source names `npm:` specifiers (a cheap scan; a warm run then finds its manifest). */
function needsPackageResolution(file: string): boolean {
  try {
    return /["']npm:/.test(readFileSync(file, "utf8"));
  } catch {
    return false;
  }
}

/** Node could not find a bare package (linking fails before any module runs, so nothing ran twice). */
function isMissingPackage(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ERR_MODULE_NOT_FOUND" && /Cannot find package/.test((error as Error).message);
}

async function importJavaScript(file: string): Promise<Record<string, unknown>> {
  try {
    return await dynamicImport(pathToFileURL(file).href);
  } catch (error) {
    // Node's ESM syntax errors carry no location: parse the file to name file:line:col.
    if (error instanceof SyntaxError) {
      const { transpile } = await import("./transpile.js");
      transpile(file, readFileSync(file, "utf8"));
    }
    throw error;
  }
}

function importOutput(manifest: Manifest): Promise<Record<string, unknown>> {
  if (manifest.output.endsWith(".cjs")) {
    mapStacksOfCommonJS(manifest.entry, manifest.output);
    return Promise.resolve(compileCommonJS(manifest.entry, manifest.output));
  }
  return dynamicImport(pathToFileURL(manifest.output).href);
}

/** A `.cts` script runs as CommonJS under its own file name, so its `require`s resolve from its directory. */
function compileCommonJS(source: string, output: string): Record<string, unknown> {
  const ModuleClass = createRequire(import.meta.url)("node:module") as {
    new (id: string): { filename: string; paths: string[]; exports: unknown; _compile(code: string, file: string): void };
    _nodeModulePaths(dir: string): string[];
  };
  const mod = new ModuleClass(source);
  mod.filename = source;
  mod.paths = ModuleClass._nodeModulePaths(dirname(source));
  mod._compile(readFileSync(output, "utf8"), source);
  return { default: mod.exports };
}

/** The value a module offers as its entry point: its default export, else (CommonJS) `module.exports`. */
export function defaultExport(namespace: Record<string, unknown>): unknown {
  return "default" in namespace ? namespace.default : namespace;
}
