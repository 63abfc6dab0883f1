/**
 * The cold path of the loader: transpile a TypeScript module graph into the
 * cache. Loaded only when the cache misses, so oxc-transform and
 * es-module-lexer cost nothing on a warm run.
 *
 * Each TypeScript module becomes `<cache>/scripts/<key>-<name>.mjs` with:
 * - its import specifiers resolved from the source's directory and rewritten
 *   to absolute URLs (the output lives in the cache, not beside the source);
 * - `import.meta.url`/`filename`/`dirname` set back to the source's;
 * - an inline source map, so stack traces show the `.ts` lines.
 */
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import { TsexecError } from "../../base/errors.js";
import { dynamicImport } from "../../base/dynamic-import.js";
import { printable } from "../../base/printable.js";
import { findTooDeep, tooDeepAt } from "./nesting.js";
import { resolveImport } from "./resolve.js";
import { outputFile, sweepTemporaryFiles, writeCacheFile, type Manifest, type OutputStamp, type SourceStamp } from "./cache.js";
import { readInputsDeclaration, type InputsDeclaration } from "./inputs-declaration.js";
import { readSourceText } from "../../base/bounded-read.js";

interface OxcResult {
  code: string;
  map?: { mappings: string; sources: string[]; sourcesContent?: string[]; names: string[]; version: number };
  errors: { message: string; labels: { start: number; end: number }[]; codeframe?: string | null; helpMessage?: string | null }[];
}
type TransformSync = (file: string, code: string, options: object) => OxcResult;

let transformSync: TransformSync | undefined;

function oxc(): TransformSync {
  return (transformSync ??= loadOxc().transformSync);
}

/**
 * oxc-transform's entry is an ES module that probes the platform (about 6 ms,
 * every cold run); its native binding for this platform loads in about 1.
 */
function loadOxc(): { transformSync: TransformSync } {
  const require = createRequire(import.meta.url);
  const fromPackage = createRequire(require.resolve("oxc-transform/package.json"));
  const flavours = process.platform === "linux" ? ["gnu", "musl"] : [process.platform === "win32" ? "msvc" : ""];
  for (const flavour of flavours) {
    const binding = `@oxc-transform/binding-${process.platform}-${process.arch}${flavour ? `-${flavour}` : ""}`;
    try {
      return fromPackage(binding) as { transformSync: TransformSync };
    } catch {
      // Not this platform's flavour: try the next, then the package's own loader.
    }
  }
  return require("oxc-transform") as { transformSync: TransformSync };
}

/** Transpiles `entry` and every TypeScript module it reaches; returns the manifest to cache. */
export async function transpileGraph(entry: string, scriptsDir: string, version: string, salt = ""): Promise<Manifest> {
  const { init, parse } = await dynamicImport<typeof import("es-module-lexer")>("es-module-lexer");
  await init;
  sweepTemporaryFiles(scriptsDir);
  const sources: SourceStamp[] = [];
  let inputs: InputsDeclaration | undefined;
  const outputs: OutputStamp[] = [];
  const outputOf = (file: string) => outputFile(scriptsDir, file, file.endsWith(".cts") ? ".cjs" : ".mjs", salt);
  // Depth first in import order, with a stack of its own: a chain of thousands of imports must not overflow the call stack.
  // An output's name depends on its source's path alone, so a module is written before the modules it imports.
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const out = outputOf(file);
  // Files an import's resolution depends on (a package lock): stamped like sources.
  const dependsOn = (path: string) => {
    if (sources.some(([known]) => known === path)) return;
    const stat = statSync(path);
    sources.push([path, stat.mtimeMs, stat.size]);
  };
    const source = readSourceText(file);
    const stat = statSync(file);
    sources.push([file, stat.mtimeMs, stat.size]);
    const { code, map } = transpile(file, source);
    if (file === entry) inputs = readInputsDeclaration(file, source);
    const esm = !file.endsWith(".cts");
    const imported: string[] = [];
    const dependencyOutput = (dependency: string): string => {
      imported.push(dependency);
      return outputOf(dependency);
    };
    const rewritten = esm ? await rewriteImports(parse, file, code, dependencyOutput, dependsOn) : { code, usesImportMeta: false };
    const { code: output, sourceMap } = withMetaAndMap(file, out, rewritten.code, map, rewritten.usesImportMeta);
    // The map first: an output is only ever read once its map is in place.
    if (sourceMap !== undefined) writeCacheFile(`${out}.map`, sourceMap);
    writeCacheFile(out, output);
    outputs.push([out, Buffer.byteLength(output)]);
    for (let i = imported.length - 1; i >= 0; i--) if (!seen.has(imported[i]!)) stack.push(imported[i]!);
  }
  const manifest: Manifest = { version, entry, output: outputOf(entry), sources, outputs };
  return inputs === undefined ? manifest : { ...manifest, inputs };
}

/** Transpiles one module, or throws `file:line:col: message` with oxc's code frame. */
export function transpile(file: string, source: string): { code: string; map: OxcResult["map"] } {
  // A shebang line is ignored: blank it (keeping offsets) so the prelude can go first.
  const text = source.startsWith("#!") ? source.replace(/^#![^\n]*/, (line) => "//" + " ".repeat(line.length - 2)) : source;
  // oxc recurses on the native stack: source nested thousands deep would crash the process.
  const deep = findTooDeep(text);
  if (deep !== undefined) {
    throw new TsexecError(
      `${printable(file)}:${deep.line}: source ${deep.what}: tsexec does not transpile it; flatten the expression (build deep data at run time, or load it as JSON)`,
    );
  }
  // A script without an extension (`#!/usr/bin/env tsexec`) is TypeScript, as a `.ts` file is.
  const lang = /\.[cm]?[jt]sx?$/.test(file) ? {} : { lang: "ts" };
  const result = oxc()(file, text, { sourcemap: true, target: "es2022", ...lang });
  const error = result.errors.find((e) => (e as { severity?: string }).severity !== "Warning");
  if (error) {
    const at = error.labels[0]?.start ?? 0;
    const before = text.slice(0, at).split("\n");
    const where = `${printable(file)}:${before.length}:${before[before.length - 1]!.length + 1}`;
    // The frame quotes the source, which may come from a repository: its lines keep their breaks, nothing else acts on the terminal.
    const frame = error.codeframe ? `\n${error.codeframe.replace(/^\n+|\n+$/g, "").split("\n").map(printable).join("\n")}` : "";
    const help = error.helpMessage ? `\nhelp: ${printable(error.helpMessage)}` : "";
    throw new TsexecError(`${where}: ${printable(error.message)}${frame}${help}`);
  }
  return { code: result.code, map: result.map };
}

/** Whether a cached output fails to parse (the module Node's SyntaxError, which names no file, came from). */
export function failsToParse(output: string): boolean {
  let code: string;
  try {
    code = readFileSync(output, "utf8");
  } catch {
    return false;
  }
  if (tooDeepAt(code) !== undefined) return true; // never what tsexec writes (and not for oxc to parse)
  const result = oxc()(output, code, { lang: "js", sourceType: output.endsWith(".cjs") ? "commonjs" : "module" });
  return result.errors.some((e) => (e as { severity?: string }).severity !== "Warning");
}

type Lexer = typeof import("es-module-lexer").parse;

/** Rewrites each import specifier to an absolute URL; says whether the module reads `import.meta`. */
async function rewriteImports(
  parse: Lexer,
  file: string,
  code: string,
  dependencyOutput: (file: string) => string,
  dependsOn: (file: string) => void,
): Promise<{ code: string; usesImportMeta: boolean }> {
  let imports: ReturnType<Lexer>[0];
  try {
    [imports] = parse(code, file);
  } catch (error) {
    throw new TsexecError(`${file}: cannot find the imports in its transpiled code (es-module-lexer: ${(error as Error).message}); simplify the module's deepest expressions`);
  }
  let out = "";
  let last = 0;
  let usesImportMeta = false;
  for (const imp of imports) {
    if (imp.d === -2) usesImportMeta = true;
    if (imp.n === undefined || imp.d === -2) continue; // import.meta, or a dynamic import of a computed name
    const resolution = await resolveImport(imp.n, file, dependsOn);
    if (resolution.kind === "builtin") continue;
    const target = resolution.kind === "typescript" ? dependencyOutput(resolution.file) : resolution.file;
    const url = pathToFileURL(target).href;
    out += code.slice(last, imp.s) + (imp.d === -1 ? url : JSON.stringify(url));
    last = imp.e;
  }
  return { code: out + code.slice(last), usesImportMeta };
}

/**
 * The output and its source map (kept beside it, read only when a stack is
 * formatted). A module that reads `import.meta` gets a first line setting
 * `url`/`filename`/`dirname` back to the source's.
 */
function withMetaAndMap(
  file: string,
  out: string,
  code: string,
  map: OxcResult["map"],
  setsImportMeta: boolean,
): { code: string; sourceMap: string | undefined } {
  const url = pathToFileURL(file).href;
  // One extra first line: the source map gains one empty generated line (";").
  const prelude = setsImportMeta
    ? `import.meta.url=${JSON.stringify(url)};import.meta.filename=${JSON.stringify(file)};import.meta.dirname=${JSON.stringify(file.slice(0, file.length - basename(file).length - 1) || "/")};\n`
    : "";
  if (!map) return { code: prelude + code, sourceMap: undefined };
  const sourceMap = { ...map, sources: [url], mappings: (setsImportMeta ? ";" : "") + map.mappings, file: basename(file) };
  return {
    code: `${prelude}${code}\n//# sourceMappingURL=${encodeURIComponent(basename(out))}.map\n`,
    sourceMap: JSON.stringify(sourceMap),
  };
}
