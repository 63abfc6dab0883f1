/**
 * Stack traces that point at a script's `.ts` lines, paid for only when a
 * stack is formatted. Node's own `--enable-source-maps` parses every loaded
 * module's map at load time (about 1 ms on each warm start); instead tsexec
 * formats stacks itself and reads a cached output's map (`<output>.map`) the
 * first time one of its frames is printed.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

type SourceMapEntry = { originalSource?: string; originalLine?: number; originalColumn?: number };
type SourceMapLike = { findEntry(line: number, column: number): SourceMapEntry };

const maps = new Map<string, SourceMapLike | null>();
/** Directories of transpiled modules whose frames are mapped. */
const outputDirs: string[] = [];
/** CommonJS scripts run under their source's name: source file → its output's map. */
const compiledUnderSourceName = new Map<string, string>();

/** Maps the frames of a CommonJS script compiled under its own file name (`.cts`). */
export function mapStacksOfCommonJS(source: string, output: string): void {
  compiledUnderSourceName.set(source, `${output}.map`);
}

/**
 * Maps frames of the transpiled modules under `scriptsDir` in every stack
 * formatted from now on. Where the process already formats stacks its own way
 * (a `prepareStackTrace` of someone else's), Node's source-map support is
 * turned on instead.
 */
export function mapStacksOf(scriptsDir: string): void {
  const prefix = scriptsDir.endsWith("/") ? scriptsDir : `${scriptsDir}/`;
  if (outputDirs.includes(prefix)) return;
  if (outputDirs.length === 0 && !formatsLikeV8(Error.prepareStackTrace)) {
    process.setSourceMapsEnabled(true);
    return;
  }
  outputDirs.push(prefix);
  Error.prepareStackTrace = formatStack;
}

/** Node's own default (it defines one) or none: safe to replace with ours, which formats alike. */
function formatsLikeV8(prepare: unknown): boolean {
  return prepare === undefined || (typeof prepare === "function" && prepare.name === "ErrorPrepareStackTrace");
}

function formatStack(error: Error, frames: NodeJS.CallSite[]): string {
  let header: string;
  try {
    header = Error.prototype.toString.call(error);
  } catch {
    header = "Error";
  }
  return header + frames.map((frame) => `\n    at ${mapFrame(frame)}`).join("");
}

function mapFrame(frame: NodeJS.CallSite): string {
  const text = String(frame);
  const url = frame.getFileName();
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  if (!url || line === null || column === null) return text;
  const file = url.startsWith("file://") ? fileURLToPath(url) : url;
  const mapFile = compiledUnderSourceName.get(file) ?? (outputDirs.some((dir) => file.startsWith(dir)) ? `${file}.map` : undefined);
  if (mapFile === undefined) return text;
  const entry = mapFor(mapFile)?.findEntry(line - 1, column - 1);
  if (!entry?.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined) return text;
  const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : entry.originalSource;
  return text.replace(`${url}:${line}:${column}`, `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
}

/** `file:line:col` (1-based) of a position in a loaded module, mapped to its `.ts` source when it is a transpiled one. */
export function mapPosition(url: string, line: number, column: number): string {
  const file = url.startsWith("file://") ? fileURLToPath(url) : url;
  const mapFile = compiledUnderSourceName.get(file) ?? (outputDirs.some((dir) => file.startsWith(dir)) ? `${file}.map` : undefined);
  const entry = mapFile === undefined ? undefined : mapFor(mapFile)?.findEntry(line - 1, column - 1);
  if (!entry?.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined) return `${file}:${line}:${column}`;
  const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : entry.originalSource;
  return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
}

function mapFor(mapFile: string): SourceMapLike | null {
  let map = maps.get(mapFile);
  if (map === undefined) {
    map = readMap(mapFile);
    maps.set(mapFile, map);
  }
  return map;
}

function readMap(mapFile: string): SourceMapLike | null {
  try {
    const payload = JSON.parse(readFileSync(mapFile, "utf8")) as object;
    const { SourceMap } = createRequire(import.meta.url)("node:module") as { SourceMap: new (payload: object) => SourceMapLike };
    return new SourceMap(payload);
  } catch {
    return null; // No map (or a damaged one): the frame stays as it is.
  }
}
