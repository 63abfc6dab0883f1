/**
 * The script loader: from a path as typed to the module's exports.
 * TypeScript goes through the transpile cache (see cache.ts); JavaScript is
 * imported as it is. `lib.import` loads fetched code with the same loader.
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TsexecError } from "../../base/errors.js";
import { dynamicImport } from "../../base/dynamic-import.js";
import { ambientContext } from "../../base/context.js";
import { versionString } from "../../base/package.js";
import { uniqueSuffix } from "../../base/files.js";
import { markUsed } from "../../base/last-use.js";
import { discardEntry, lookupManifest, manifestFile, writeManifest, type Manifest } from "./cache.js";
import type { InputsDeclaration } from "./inputs-declaration.js";
import { directoryEntry } from "./directory-entry.js";
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
export async function importModule(file: string, cacheDir: string, warn?: (line: string) => void): Promise<Record<string, unknown>> {
  return (await importScript(file, cacheDir, warn)).namespace;
}

export interface ImportedScript {
  readonly namespace: Record<string, unknown>;
  /** Its static `inputs` declaration, if it exports one (src/runtime/loader/inputs-declaration.ts). */
  readonly inputs: InputsDeclaration | undefined;
}

/**
 * Imports a script and reads its `inputs` declaration: from the transpile
 * manifest for TypeScript (recorded when it was transpiled, so a warm run
 * costs nothing more), by parsing JavaScript that exports `inputs`.
 */
export async function importScript(
  file: string,
  cacheDir: string,
  warn: (line: string) => void = (line) => process.stderr.write(`tsexec: warning: ${line}\n`),
): Promise<ImportedScript> {
  const scriptsDir = join(cacheDir, "scripts");
  if (javaScriptExtensions.has(extname(file))) {
    // JavaScript runs as it is, unless its imports need tsexec's resolution (npm: specifiers, packages from a lock).
    const commonJS = extname(file) === ".cjs";
    if (commonJS || !(existsSync(manifestFile(scriptsDir, file)) || (await needsPackageResolution(file)))) {
      try {
        const namespace = await importJavaScript(file);
        if (!("inputs" in namespace)) return { namespace, inputs: undefined };
        const { readInputsDeclaration } = await import("./inputs-declaration.js");
        return { namespace, inputs: readInputsDeclaration(file, await readSource(file)) };
      } catch (error) {
        if (commonJS || !isMissingPackage(error)) throw error;
      }
    }
  }
  // Stack traces of scripts point at their .ts lines through the outputs' inline source maps.
  mapStacksOf(scriptsDir);
  const version = cacheVersion();
  const found = lookupManifest(scriptsDir, file, version);
  if (found.kind === "damaged") {
    warn(`the cache file ${found.file} is damaged (${found.why}): removed; transpiling ${file} again`);
    discardEntry(scriptsDir, file, found.file);
  }
  if (found.kind !== "fresh") return transpileAndImport(file, scriptsDir, version);
  // The last-use mark tsexec gc keeps recent entries by (docs/gc.md).
  markUsed(manifestFile(scriptsDir, file));
  try {
    return { namespace: await importOutput(found.manifest), inputs: found.manifest.inputs };
  } catch (error) {
    const fault = await cacheFault(error, found.manifest);
    if (fault === undefined) {
      // A dependency outside the cache went away: transpile again, which resolves the imports anew (or says which is missing).
      if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
      return transpileAndImport(file, scriptsDir, version);
    }
    warn(`the cache file ${fault.file} is damaged (${fault.why}): removed; transpiling ${file} again`);
    discardEntry(scriptsDir, file, fault.file);
    // Node keeps a module that failed to parse under its URL: the repaired graph gets new names.
    return transpileAndImport(file, scriptsDir, version, fault.why === "it does not parse" ? `retry-${uniqueSuffix()}` : "");
  }
}

/**
 * What a cached transpile is valid for: this tsexec, and the install scripts allowed. An
 * output imports its npm packages from an installed tree by path, and a tree built with a
 * package's scripts is another tree: a run with --allow-scripts must not reuse the output
 * of a run without (its tree never ran them). Without the flag the key is the version alone.
 */
function cacheVersion(): string {
  const flag = ambientContext().options["allow-scripts"];
  if (typeof flag !== "string") return versionString();
  const names = [...new Set(flag.split(",").map((s) => s.trim()).filter(Boolean))].sort();
  return names.length === 0 ? versionString() : `${versionString()}+allow-scripts=${names.join(",")}`;
}

async function transpileAndImport(file: string, scriptsDir: string, version: string, salt = ""): Promise<ImportedScript> {
  const { transpileGraph } = await import("./transpile.js");
  const manifest = await transpileGraph(file, scriptsDir, version, salt);
  writeManifest(scriptsDir, manifest);
  return { namespace: await importOutput(manifest), inputs: manifest.inputs };
}

/**
 * The cache file an import failure points at, if it points into the cache:
 * an output missing since it was checked, or one that does not parse (Node's
 * SyntaxError names no file: each output is parsed to find it).
 */
async function cacheFault(error: unknown, manifest: Manifest): Promise<{ file: string; why: string } | undefined> {
  const outputs = manifest.outputs.map(([path]) => path);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "ENOENT") {
    const missing = /Cannot find module '([^']+)'/.exec((error as Error).message)?.[1] ?? (error as NodeJS.ErrnoException).path;
    return missing !== undefined && outputs.includes(missing) ? { file: missing, why: "it is missing" } : undefined;
  }
  if (!(error instanceof SyntaxError)) return undefined;
  const { failsToParse } = await import("./transpile.js");
  const broken = outputs.find(failsToParse);
  return broken === undefined ? undefined : { file: broken, why: "it does not parse" };
}

/** A script's text, bounded (base/bounded-read.ts): loaded only on these JavaScript paths, off the warm path of a .ts script. */
async function readSource(file: string): Promise<string> {
  return (await import("../../base/bounded-read.js")).readSourceText(file);
}

/** A JavaScript module whose source names `npm:` specifiers (a cheap scan; a warm run then finds its manifest). */
async function needsPackageResolution(file: string): Promise<boolean> {
  try {
    return /["']npm:/.test(await readSource(file));
  } catch {
    return false;
  }
}

/** Node could not find a bare package (linking fails before any module runs, so nothing ran twice). */
function isMissingPackage(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ERR_MODULE_NOT_FOUND" && /Cannot find package/.test((error as Error).message);
}

async function importJavaScript(file: string): Promise<Record<string, unknown>> {
  if (file.includes("\\")) {
    throw new TsexecError(`cannot load ${file}: Node does not import JavaScript files whose path contains a backslash; rename it`);
  }
  try {
    return await dynamicImport(pathToFileURL(file).href);
  } catch (error) {
    // Node's ESM syntax errors carry no location: parse the file to name file:line:col.
    // (transpile refuses source nested too deep to parse, which V8 reports as a stack overflow.)
    if (error instanceof SyntaxError || (error instanceof RangeError && /call stack/.test(error.message))) {
      const { transpile } = await import("./transpile.js");
      transpile(file, await readSource(file));
    }
    throw error;
  }
}

async function importOutput(manifest: Manifest): Promise<Record<string, unknown>> {
  try {
    return await importOutputAs(manifest);
  } catch (error) {
    // A named import of something the module does not export: say so at the script's line, not the cache file's.
    if (error instanceof SyntaxError && /does not provide an export named/.test(error.message)) {
      const { missingExportError } = await import("./missing-export.js");
      throw (await missingExportError(error)) ?? error;
    }
    throw error;
  }
}

function importOutputAs(manifest: Manifest): Promise<Record<string, unknown>> {
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
