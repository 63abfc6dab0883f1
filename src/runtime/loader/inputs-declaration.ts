/**
 * A script's declared git inputs, read statically:
 *
 *     export const inputs = {
 *       tools: "github:acme/tools/v2",                         // any reference form, or a registry name
 *       cjson: { url: "https://…/cJSON.git", ref: "v1.7.15", submodules: false },
 *     };
 *
 * The declaration must be readable without running the script (as nix reads
 * a flake's `inputs`): an object literal whose values are string literals, or
 * objects of string/boolean literals. It is parsed with oxc-parser when the
 * loader transpiles the script (the cold path) and kept in the transpile
 * manifest, so a warm run reads it for free. See docs/flakes.md.
 *
 * Part of the loader (it reads the declaration while transpiling); the
 * fetching and locking of inputs is in src/inputs/. Imports only base helpers
 * (oxc-parser is required on first use).
 */
import { createRequire } from "node:module";
import { TsexecError } from "../../base/errors.js";
import { printable } from "../../base/printable.js";

/** The object form of an input. */
export interface InputObjectSpec {
  /** Any URL fetchgit accepts (relative paths resolve against the script's directory). */
  readonly url: string;
  /** A branch or tag. */
  readonly ref?: string;
  /** A full commit hash (the input is pinned by its declaration). */
  readonly rev?: string;
  /** Check submodules out too (default true). */
  readonly submodules?: boolean;
  /** A subdirectory of the checkout the input's path points at. */
  readonly dir?: string;
}

/** An input as declared: a reference string (or registry name), or the object form. */
export type InputSpec = string | InputObjectSpec;

/** One declared input, with the line it is declared on (for error messages). */
export interface DeclaredInput {
  readonly spec: InputSpec;
  readonly line: number;
}

/** Input name → declaration; what the transpile manifest keeps. */
export type InputsDeclaration = Readonly<Record<string, DeclaredInput>>;

/**
 * What a script receives as `inputs.<name>`: a read-only checkout. In a
 * template string it is its path (`${inputs.tools}/lib.ts`).
 */
export interface Input {
  /** The read-only checkout (or its `dir` subdirectory). */
  readonly path: string;
  /** The full commit checked out. */
  readonly rev: string;
  /** The branch or tag declared, if any. */
  readonly ref: string | undefined;
  /** The repository URL. */
  readonly url: string;
  /** The checkout's content hash (docs/git.md's canonical form). */
  readonly hash: string;
  /** The path. */
  toString(): string;
}

export const inputObjectFields = ["url", "ref", "rev", "submodules", "dir"] as const;
const inputName = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Cheap pre-check: only a source that mentions `inputs` is parsed. */
export function mayDeclareInputs(source: string): boolean {
  return /\binputs\b/.test(source);
}

interface AstNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly [key: string]: any;
}
type ParseSync = (file: string, source: string) => { program: { body: AstNode[] }; errors: unknown[] };
let parseSync: ParseSync | undefined;

/**
 * The inputs `source` declares (undefined when it exports no `inputs`).
 * Throws a TsexecError naming `file:line` for a declaration that is not static.
 */
export function readInputsDeclaration(file: string, source: string): InputsDeclaration | undefined {
  if (!mayDeclareInputs(source)) return undefined;
  parseSync ??= (createRequire(import.meta.url)("oxc-parser") as { parseSync: ParseSync }).parseSync;
  const { program, errors } = parseSync(file, source);
  if (errors.length > 0) return undefined; // the transpiler reports syntax errors with a code frame
  const found = findInputsExport(program.body);
  if (found === undefined) return undefined;
  const where = (node: AstNode) => `${file}:${lineAt(source, node.start)}`;
  if (found.kind !== "const" || found.init === undefined) {
    throw new TsexecError(
      `${where(found.node)}: 'inputs' must be declared in the script as \`export const inputs = { name: "reference", … }\`, so tsexec can read it without running the script`,
    );
  }
  return readInputsObject(unwrap(found.init), where, (node) => lineAt(source, node.start));
}

/** The `inputs` export: `export const inputs = …`, or `const x = …; export { x as inputs }`. */
function findInputsExport(body: AstNode[]): { node: AstNode; kind: string; init: AstNode | undefined } | undefined {
  for (const statement of body) {
    if (statement.type !== "ExportNamedDeclaration") continue;
    const declaration = statement.declaration;
    if (declaration?.type === "VariableDeclaration") {
      for (const d of declaration.declarations as AstNode[]) {
        if (d.id?.type === "Identifier" && d.id.name === "inputs") return { node: d, kind: declaration.kind, init: d.init ?? undefined };
      }
    } else if (declaration && declaration.id?.name === "inputs") {
      return { node: declaration, kind: "other", init: undefined };
    }
    for (const specifier of (statement.specifiers ?? []) as AstNode[]) {
      const exported = specifier.exported?.name ?? specifier.exported?.value;
      if (exported !== "inputs") continue;
      if (statement.source) return { node: specifier, kind: "re-export", init: undefined };
      const local = topLevelConst(specifier.local?.name, body);
      return local ?? { node: specifier, kind: "other", init: undefined };
    }
  }
  return undefined;
}

function topLevelConst(name: string | undefined, body: AstNode[]): { node: AstNode; kind: string; init: AstNode | undefined } | undefined {
  for (const statement of body) {
    const inner = statement.type === "ExportNamedDeclaration" && statement.declaration ? statement.declaration : statement;
    if (inner.type !== "VariableDeclaration") continue;
    for (const d of inner.declarations as AstNode[]) {
      if (d.id?.type === "Identifier" && d.id.name === name) return { node: d, kind: inner.kind, init: d.init ?? undefined };
    }
  }
  return undefined;
}

/** `x as const`, `x satisfies T`, `(x)`: the expression inside. */
function unwrap(node: AstNode): AstNode {
  while (node.type === "TSAsExpression" || node.type === "TSSatisfiesExpression" || node.type === "ParenthesizedExpression") node = node.expression;
  return node;
}

function readInputsObject(node: AstNode, where: (node: AstNode) => string, line: (node: AstNode) => number): InputsDeclaration {
  if (node.type !== "ObjectExpression") {
    throw new TsexecError(`${where(node)}: 'inputs' must be an object literal ({ name: "reference", … }), not a computed value: tsexec reads it without running the script`);
  }
  const out: Record<string, DeclaredInput> = {};
  for (const property of node.properties as AstNode[]) {
    const name = staticKey(property, where);
    if (!inputName.test(name)) throw new TsexecError(`${where(property)}: input name '${printable(name)}' must be an identifier (letters, digits, _ $ -)`);
    if (Object.hasOwn(out, name)) throw new TsexecError(`${where(property)}: input '${name}' is declared twice`);
    const value = unwrap(property.value);
    const text = staticString(value);
    if (text !== undefined) {
      if (text === "") throw new TsexecError(`${where(value)}: input '${name}' is an empty reference`);
      out[name] = { spec: text, line: line(property) };
    } else if (value.type === "ObjectExpression") {
      out[name] = { spec: readInputObject(name, value, where), line: line(property) };
    } else {
      throw new TsexecError(
        `${where(value)}: input '${name}' must be a string literal (a reference) or an object literal { url, ref, rev, submodules, dir }, not a computed value: tsexec reads inputs without running the script`,
      );
    }
  }
  return out;
}

function readInputObject(name: string, node: AstNode, where: (node: AstNode) => string): InputObjectSpec {
  const spec: Record<string, string | boolean> = {};
  for (const property of node.properties as AstNode[]) {
    const field = staticKey(property, where);
    const value = unwrap(property.value);
    if (!(inputObjectFields as readonly string[]).includes(field)) {
      throw new TsexecError(`${where(property)}: input '${name}' has an unknown field '${printable(field)}' (known: ${inputObjectFields.join(", ")})`);
    }
    if (field === "submodules") {
      if (value.type !== "Literal" || typeof value.value !== "boolean") throw new TsexecError(`${where(value)}: input '${name}': 'submodules' must be true or false`);
      spec[field] = value.value;
    } else {
      const text = staticString(value);
      if (text === undefined || text === "") throw new TsexecError(`${where(value)}: input '${name}': '${field}' must be a non-empty string literal`);
      spec[field] = text;
    }
  }
  if (spec.url === undefined) throw new TsexecError(`${where(node)}: input '${name}' has no 'url'`);
  if (spec.ref !== undefined && spec.rev !== undefined) throw new TsexecError(`${where(node)}: input '${name}' gives both 'ref' and 'rev': keep one`);
  return spec as unknown as InputObjectSpec;
}

function staticKey(property: AstNode, where: (node: AstNode) => string): string {
  if (property.type !== "Property" || property.kind !== "init" || property.method || property.shorthand || property.computed) {
    throw new TsexecError(`${where(property)}: 'inputs' may hold only \`name: value\` entries with literal values (no spreads, methods, shorthands or computed keys)`);
  }
  const key = property.key;
  if (key.type === "Identifier") return key.name as string;
  if (key.type === "Literal" && typeof key.value === "string") return key.value;
  throw new TsexecError(`${where(property)}: an input's name must be an identifier or a string`);
}

/** A string literal's value, or a template literal's without substitutions; undefined for anything else. */
function staticString(node: AstNode): string | undefined {
  if (node.type === "Literal" && typeof node.value === "string") return node.value;
  if (node.type === "TemplateLiteral" && node.expressions.length === 0) return node.quasis[0]?.value?.cooked ?? undefined;
  return undefined;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

