/**
 * `tsexec show <reference>`: lists the scripts a reference offers (modules
 * whose default export is a function of `{ args, lib }`), found by parsing
 * them with oxc-parser, never by running them, with the first line of each
 * one's doc comment and the commit they come from.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { checkoutReference } from "../reference.js";
import { isAppName } from "../apps.js";
import { parseTypedReference } from "../registry.js";
import { appPath, flakeListing } from "./show-apps.js";
import { UsageError } from "../options.js";
import type { CommandRun } from "./command.js";

/** `tsexec show REFERENCE`. */
export const run: CommandRun = async ({ args, ctx }) => {
  if (args.length !== 1) throw new UsageError("show takes one git reference: tsexec show <reference>");
  await showReference(args[0]!, ctx);
  return 0;
};

const scriptExtensions = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;

export interface ScriptInfo {
  /** Path relative to the reference's directory. */
  readonly path: string;
  /** First line of the doc comment, or "". */
  readonly summary: string;
}

/** Prints the listing to stdout. */
export async function showReference(typed: string, ctx: PrimitiveContext, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const reference = await parseTypedReference(typed);
  const resolved = await checkoutReference(reference, ctx);
  // An app name (`#deploy`) narrows the listing to the script `bin` maps it to.
  const narrowed = reference.path !== undefined && isAppName(reference.path) ? (appPath(resolved.root, resolved.checkout, reference.path) ?? reference.path) : reference.path;
  // `#path` narrows the listing to the scripts at (or below) that path.
  const scripts = listScripts(resolved.root).filter(
    (s) => narrowed === undefined || s.path === narrowed || s.path.startsWith(`${narrowed.replace(/\/$/, "")}/`),
  );
  const via = reference.registry === undefined ? "" : ` (registry: ${reference.registry})`;
  const lines = [`${typed}${via} at commit ${resolved.commit}:`];
  if (scripts.length === 0) {
    const where = reference.path === undefined ? "" : ` at '${reference.path}'`;
    lines.push(`  (no scripts${where}: no module default-exports a function of { args, lib })`);
  }
  // Apps (package.json bin) first, then the other scripts, then declared inputs (show-apps.ts).
  if (scripts.length > 0) lines.push(...flakeListing(resolved.root, resolved.checkout, scripts, `reference '${typed}'`, narrowed === undefined));
  write(lines.join("\n") + "\n");
}

export function listScripts(root: string): ScriptInfo[] {
  const found: ScriptInfo[] = [];
  const walk = (relative: string): void => {
    const entries = readdirSync(join(root, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && scriptExtensions.test(entry.name) && !entry.name.endsWith(".d.ts")) {
        const summary = analyzeScript(path, readFileSync(join(root, path), "utf8"));
        if (summary !== undefined) found.push({ path, summary });
      }
    }
  };
  walk("");
  return found;
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
  const { program, comments, errors } = parseSync(file, source);
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
