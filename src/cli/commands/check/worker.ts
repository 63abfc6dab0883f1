/**
 * The child process `tsexec check` runs TypeScript's API in (built to
 * dist/check-worker.mjs). A check takes seconds of CPU; in tsexec's own process
 * it would block the event loop for all of them, and with it SIGINT and
 * SIGTERM. In a child of its own (a process group, registered with the run's
 * children) a signal stops it at once.
 *
 *     node dist/check-worker.mjs MODE TYPESCRIPT CONFIG OWN-FILES
 *
 * MODE `check`: TypeScript's errors and dropped IO values, on one program.
 * MODE `dropped-io`: dropped IO values only (beside tsgo, which has no API).
 * TYPESCRIPT: typescript's entry file; CONFIG: the generated tsconfig;
 * OWN-FILES: the JSON of an OwnFiles (check-dropped-io.ts).
 * Prints a JSON array of diagnostics (check.ts's Diagnostic) on stdout.
 */
import { createRequire } from "node:module";
import type * as TS from "typescript";
import { findDroppedIO, findDroppedIOInConfig, ownFileTest, type OwnFiles } from "./dropped-io.js";

type TypeScript = typeof import("typescript");

function fromTypeScript(ts: TypeScript, d: TS.Diagnostic) {
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  if (d.file === undefined || d.start === undefined) return { line: 0, column: 0, code: d.code, message };
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return { file: d.file.fileName, line: line + 1, column: character + 1, code: d.code, message };
}

function check(ts: TypeScript, config: string, isOwnFile: (file: string) => boolean): unknown[] {
  const configErrors: TS.Diagnostic[] = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(config, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => configErrors.push(d) });
  if (parsed === undefined) return configErrors.map((d) => fromTypeScript(ts, d));
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
  const errors = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)].filter((d) => d.category === ts.DiagnosticCategory.Error);
  return [...errors.map((d) => fromTypeScript(ts, d)), ...findDroppedIO(ts, program, isOwnFile)];
}

const [mode, typescript, config, own] = process.argv.slice(2);
const ts = createRequire(import.meta.url)(typescript!) as TypeScript;
const isOwnFile = ownFileTest(JSON.parse(own!) as OwnFiles);
const found = mode === "check" ? check(ts, config!, isOwnFile) : findDroppedIOInConfig(ts, config!, isOwnFile);
process.stdout.write(JSON.stringify(found));
