/**
 * `tsexec check`'s one rule beyond the type checker: an expression statement
 * whose value is an IO (`` lib.$`rm -rf build`; ``, zx's habit) builds a
 * program and drops it, so it never runs, and nothing says so at run time.
 * typescript-eslint's no-floating-promises and Effect's language service flag
 * the same shape for promises and Effects.
 *
 * It needs types (is this call's result an IO?), so it reads a TypeScript
 * program built with TypeScript's API: the checker's own program when the API
 * checks, else one built beside tsgo (which has no API to ask). Loaded only by
 * `check` and `--check`.
 */
import { relative } from "node:path";
import type * as TS from "typescript";

type TypeScript = typeof import("typescript");

/** The rule's name, printed where a TypeScript error prints its code. */
export const droppedIORule = "dropped-io";

/** One dropped IO value, shaped as check.ts's Diagnostic (which imports this file). */
export interface DroppedIO {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly code: 0;
  readonly rule: typeof droppedIORule;
  readonly message: string;
}

/** Which files tsexec's own rules look at: the scripts and theirs, not packages or tsexec's cache (a script's stand-in copy excepted). */
export interface OwnFiles {
  readonly cacheDir: string;
  /** The cache's copy of a script that has no .ts name (a shebang script), checked in its place. */
  readonly standIn: string | undefined;
}

export function ownFileTest({ cacheDir, standIn }: OwnFiles): (file: string) => boolean {
  return (file) => file === standIn || (!/[\\/]node_modules[\\/]/.test(file) && relative(cacheDir, file).startsWith(".."));
}

/**
 * The dropped IO values in the program's own files (`isOwnFile` says which:
 * not tsexec's declarations, not packages).
 */
export function findDroppedIO(ts: TypeScript, program: TS.Program, isOwnFile: (file: string) => boolean): DroppedIO[] {
  const checker = program.getTypeChecker();
  const found: DroppedIO[] = [];
  for (const source of program.getSourceFiles()) {
    if (source.isDeclarationFile || program.isSourceFileFromExternalLibrary(source) || !isOwnFile(source.fileName)) continue;
    const visit = (node: TS.Node): void => {
      if (ts.isExpressionStatement(node) && !isAssignment(ts, node.expression) && isIOType(checker, checker.getTypeAtLocation(node.expression))) {
        const start = node.expression.getStart(source);
        const { line, character } = source.getLineAndCharacterOfPosition(start);
        found.push({ file: source.fileName, line: line + 1, column: character + 1, code: 0, rule: droppedIORule, message: droppedMessage(ts, node.expression) });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

/** Builds the program the generated config describes (when tsgo checks, this runs beside it). */
export function findDroppedIOInConfig(ts: TypeScript, config: string, isOwnFile: (file: string) => boolean): DroppedIO[] {
  // Without Node's types (most of the files to parse): an IO's type never depends on them, and
  // what they would have typed becomes `any`, never an IO. This halves the cost beside tsgo.
  const parsed = ts.getParsedCommandLineOfConfigFile(config, { types: [] }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  // A config TypeScript cannot read is the type checker's to report.
  if (parsed === undefined) return [];
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
  return findDroppedIO(ts, program, isOwnFile);
}

/** `x = lib.$…` keeps the value: not dropped. */
function isAssignment(ts: TypeScript, expression: TS.Expression): boolean {
  const e = skipParentheses(ts, expression);
  return (
    ts.isBinaryExpression(e) &&
    e.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
    e.operatorToken.kind <= ts.SyntaxKind.LastAssignment
  );
}

function skipParentheses(ts: TypeScript, expression: TS.Expression): TS.Expression {
  while (ts.isParenthesizedExpression(expression)) expression = expression.expression;
  return expression;
}

/**
 * An IO value: its type carries tsexec's brand, the `unique symbol` property
 * declared in monad/io (`.ts` here, `.d.ts` in the built package), whichever
 * copy of tsexec the script's types come from. A union (`ok && lib.$…`) counts
 * if any member is an IO.
 */
function isIOType(checker: TS.TypeChecker, type: TS.Type): boolean {
  if (type.isUnion()) return type.types.some((member) => isIOType(checker, member));
  return checker.getPropertiesOfType(type).some(isBrand);
}

function isBrand(property: TS.Symbol): boolean {
  return (
    String(property.escapedName).startsWith("__@brand@") &&
    (property.declarations ?? []).some((d) => /[\\/]monad[\\/]io\.(d\.)?ts$/.test(d.getSourceFile().fileName))
  );
}

function droppedMessage(ts: TypeScript, expression: TS.Expression): string {
  const e = skipParentheses(ts, expression);
  const isCommand = ts.isTaggedTemplateExpression(e) || (ts.isCallExpression(e) && /\$|exec/.test(e.expression.getText()));
  return isCommand
    ? "this command is built and dropped, so it never runs: unlike zx's $, lib.$ and lib.exec run a command only as part of the IO the script returns; " +
        "return it, or chain it: lib.bind(lib.$`…`, () => next)"
    : "this IO value is built and dropped, so it never runs: an IO runs only as part of the IO the script returns; " +
        "return it, or chain it: lib.bind(io, () => next)";
}
