/**
 * Node's error for a named import the imported module does not have names
 * the transpiled copy in the cache (`…/cache/scripts/eb97…-util.mjs does not
 * provide an export named 'shuot'`), a file the user never wrote. This names
 * the script's own line instead, the specifier as written, and the export
 * meant when one is a typo away. Loaded only when that error happens.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TsexecError } from "../../base/errors.js";
import { dynamicImport } from "../../base/dynamic-import.js";
import { printable } from "../../base/printable.js";
import { editDistance } from "./resolve.js";
import { mapPosition } from "./source-maps.js";

/** The TsexecError for Node's missing-export SyntaxError, or undefined when the error is not one (or names no place). */
export async function missingExportError(error: unknown): Promise<TsexecError | undefined> {
  if (!(error instanceof SyntaxError)) return undefined;
  const named = /The requested module '([^']+)' does not provide an export named '([^']+)'/.exec(error.message);
  // Node's stack starts with the importing module's `url:line`, its source line, and a caret under the name.
  const head = /^(file:\/\/[^\n]+?):(\d+)\n[^\n]*\n( *)\^/.exec(error.stack ?? "");
  if (!named || !head) return undefined;
  const [, requested, name] = named as unknown as [string, string, string];
  const where = mapPosition(head[1]!, Number(head[2]), head[3]!.length + 1);
  const specifier = specifierAt(where) ?? requested;
  const offered = await exportsOf(requested, fileURLToPath(head[1]!));
  const close = offered
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .filter((c) => c.distance <= Math.max(2, Math.floor(name.length / 3)) && c.distance < name.length)
    .sort((a, b) => a.distance - b.distance)[0]?.candidate;
  const hint =
    close !== undefined
      ? `: did you mean '${printable(close)}'?`
      : offered.length > 0
        ? ` (it exports ${offered.slice(0, 10).map(printable).join(", ")}${offered.length > 10 ? ", …" : ""})`
        : "";
  return new TsexecError(`${printable(where)}: '${printable(specifier)}' has no export named '${printable(name)}'${hint}`);
}

/** The specifier of the import statement at `file:line:col` (the first `from "…"` from that line on). */
function specifierAt(where: string): string | undefined {
  const m = /^(.*):(\d+):(\d+)$/.exec(where);
  if (!m) return undefined;
  try {
    const lines = readFileSync(m[1]!, "utf8").split("\n");
    const rest = lines.slice(Number(m[2]) - 1, Number(m[2]) + 20).join("\n");
    return /\bfrom\s*(["'])([^"'\n]+)\1/.exec(rest)?.[2];
  } catch {
    return undefined;
  }
}

/** The names an ES module exports (es-module-lexer on the transpiled file); none when it cannot be read. */
async function exportsOf(requested: string, importer: string): Promise<string[]> {
  try {
    const file = requested.startsWith("file://") ? fileURLToPath(requested) : resolve(dirname(importer), requested);
    const source = readFileSync(file, "utf8");
    if (source.length > 4 * 1024 * 1024) return [];
    const { init, parse } = await dynamicImport<typeof import("es-module-lexer")>("es-module-lexer");
    await init;
    return parse(source)[1].map((e) => e.n).filter((n) => n !== "default");
  } catch {
    return [];
  }
}
