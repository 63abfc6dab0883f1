/**
 * What `tsexec show` finds out about one file, by parsing it with oxc-parser
 * (never by running it): whether it is a script (its default export is a
 * function of `{ args, lib }`) and the first line of its doc comment. Runs in
 * the child process of show-parser.ts, where a malicious file can crash or
 * exhaust nothing but that child.
 */
import { createRequire } from "node:module";
import { mayDeclareInputs, readInputsDeclaration, type InputsDeclaration } from "../../../runtime/loader/inputs-declaration.js";
import { findTooDeep } from "../../../runtime/loader/nesting.js";

/**
 * What show prints for a file: a script's summary ("" if it has no doc comment) with its
 * declared inputs (or why they cannot be read), a note, or nothing (not a script).
 */
export type Inspection =
  | { readonly summary: string; readonly inputs?: InputsDeclaration; readonly inputsError?: string }
  | { readonly note: string }
  | Record<string, never>;

/** Inspects one file's source; source nested too deep for the parser is refused with a note naming the line. */
export function inspectSource(file: string, source: string): Inspection {
  const deep = findTooDeep(source);
  if (deep !== undefined) return { note: `not inspected: ${deep.brief} at line ${deep.line}` };
  const summary = analyzeScript(file, source);
  if (summary === undefined) return {};
  if (!mayDeclareInputs(source)) return { summary };
  try {
    const inputs = readInputsDeclaration(file, source);
    return inputs === undefined ? { summary } : { summary, inputs };
  } catch (error) {
    return { summary, inputsError: (error as Error).message };
  }
}

// ---- static analysis (oxc-parser's ESTree AST) ----

interface AstNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly [key: string]: any;
}

interface Comment {
  readonly type: "Line" | "Block";
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

type ParseSync = (file: string, source: string) => { program: { body: AstNode[] }; comments: Comment[]; errors: unknown[] };
let parseSync: ParseSync | undefined;

/** The doc summary if `source` default-exports a function of `{ args, lib }`; undefined if it is not a script. */
export function analyzeScript(file: string, source: string): string | undefined {
  parseSync ??= (createRequire(import.meta.url)("oxc-parser") as { parseSync: ParseSync }).parseSync;
  // A shebang script without an extension runs as TypeScript: parse it as such.
  const { program, comments, errors } = parseSync(/\.[^/]*$/.test(file) ? file : `${file}.ts`, source);
  if (errors.length > 0) return undefined;
  const body = program.body;
  const exported = body.find((node) => node.type === "ExportDefaultDeclaration");
  if (!exported) return undefined;
  const declaration = scriptFunction(exported.declaration, body);
  if (!declaration) return undefined;
  const doc =
    docBefore(exported, body, comments) ??
    (declaration.statement ? docBefore(declaration.statement, body, comments) : undefined) ??
    leadingComment(body, comments);
  return doc ?? "";
}

/** The function a default export stands for (through defineScript(...), casts and top-level names), if it takes `{ args, lib }`. */
function scriptFunction(node: AstNode | undefined, body: AstNode[]): { statement?: AstNode } | undefined {
  for (let depth = 0; node && depth < 5; depth++) {
    switch (node.type) {
      case "ArrowFunctionExpression":
      case "FunctionExpression":
      case "FunctionDeclaration":
        return takesArgsAndLib(node) ? {} : undefined;
      case "TSAsExpression":
      case "TSSatisfiesExpression":
      case "TSNonNullExpression":
      case "ParenthesizedExpression":
        node = node.expression;
        continue;
      case "CallExpression": {
        const callee = node.callee;
        const name = callee?.type === "Identifier" ? callee.name : callee?.type === "MemberExpression" ? callee.property?.name : undefined;
        if (name !== "defineScript") return undefined;
        // defineScript(fn), or defineScript(inputs, fn): the function comes last.
        node = node.arguments?.[node.arguments.length - 1];
        continue;
      }
      case "Identifier": {
        const target = topLevelBinding(node.name, body);
        if (!target) return undefined;
        const found = scriptFunction(target.value, body);
        return found ? { statement: target.statement } : undefined;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}

function takesArgsAndLib(fn: AstNode): boolean {
  const params: AstNode[] = fn.params ?? [];
  if (params.length > 1) return false;
  let param = params[0];
  if (param?.type === "AssignmentPattern") param = param.left;
  if (!param || param.type === "Identifier") return true;
  if (param.type !== "ObjectPattern") return false;
  return (param.properties as AstNode[]).every(
    (p) => p.type === "RestElement" || (p.key?.type === "Identifier" && (p.key.name === "args" || p.key.name === "lib" || p.key.name === "inputs")),
  );
}

function topLevelBinding(name: string, body: AstNode[]): { statement: AstNode; value: AstNode } | undefined {
  for (const statement of body) {
    const inner = statement.type === "ExportNamedDeclaration" && statement.declaration ? statement.declaration : statement;
    if (inner.type === "FunctionDeclaration" && inner.id?.name === name) return { statement, value: inner };
    if (inner.type === "VariableDeclaration") {
      for (const d of inner.declarations as AstNode[]) {
        if (d.id?.type === "Identifier" && d.id.name === name && d.init) return { statement, value: d.init };
      }
    }
  }
  return undefined;
}

/** The first line of the `/** … *\/` comment right before `node` (after the previous statement). */
function docBefore(node: AstNode, body: AstNode[], comments: Comment[]): string | undefined {
  const previousEnd = Math.max(0, ...body.filter((n) => n.end <= node.start).map((n) => n.end));
  const candidates = comments.filter((c) => c.type === "Block" && c.value.startsWith("*") && c.start >= previousEnd && c.end <= node.start);
  const last = candidates[candidates.length - 1];
  return last ? firstLine(last.value.replace(/^\*/, "")) : undefined;
}

/** The first line of the comment a file opens with (its header), if it comes before any statement. */
function leadingComment(body: AstNode[], comments: Comment[]): string | undefined {
  const first = comments[0];
  const firstStatement = body[0]?.start ?? Infinity;
  if (!first || first.start > firstStatement) return undefined;
  return firstLine(first.type === "Block" ? first.value.replace(/^\*/, "") : first.value);
}

function firstLine(text: string): string | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^\s*\*?\s?/, "").trim();
    if (line !== "") return line;
  }
  return undefined;
}
