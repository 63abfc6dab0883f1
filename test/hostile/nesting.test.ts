/**
 * The nesting guard (src/runtime/loader/nesting.ts) against generated source:
 * brackets and template literals nest, while brackets inside strings,
 * comments and regular expressions do not count; and the escaping of
 * untrusted text for the terminal (src/base/printable.ts).
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { maxChain, maxNesting, tooDeepAt } from "../../src/runtime/loader/nesting.js";
import { printable } from "../../src/base/printable.js";

/** A piece of source, its nesting depth, and the line its deepest point first appears on (relative). */
interface Piece {
  readonly text: string;
  readonly depth: number;
}

/** Pieces that hold brackets which must not count. */
const inert = fc.constantFrom(
  `"(([{"`,
  `'}}])'`,
  `"a\\"(("`,
  `// ((( [[[\n`,
  `/* {{{\n ((( */`,
  `; /[(]+\\/(/g`,
  ` return /\\[{/.source`,
  ` x / y / z`,
  ` a++ / 2`,
  `\n`,
  ` ident`,
  ` 42`,
);

const piece: fc.Arbitrary<Piece> = fc.letrec<{ piece: Piece; seq: Piece }>((tie) => ({
  piece: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    inert.map((text) => ({ text, depth: 0 })),
    fc.tuple(fc.constantFrom(["(", ")"], ["[", "]"], ["{", "}"]), tie("seq")).map(([[open, close], inner]) => ({
      text: `${open}${inner.text}${close}`,
      depth: inner.depth + 1,
    })),
    // A template literal is a level; each `${ }` in it another.
    fc.tuple(fc.constantFrom("", "text ((", "a\nb"), tie("seq")).map(([text, inner]) => ({
      text: `\`${text}\${${inner.text}}\``,
      depth: inner.depth + 2,
    })),
  ),
  seq: fc.array(tie("piece"), { maxLength: 4 }).map((pieces) => ({
    text: pieces.map((p) => p.text).join(" "),
    depth: Math.max(0, ...pieces.map((p) => p.depth)),
  })),
})).seq;

describe("tooDeepAt", () => {
  test("finds exactly the nesting of brackets and templates, ignoring strings, comments and regular expressions", () => {
    fc.assert(
      fc.property(piece, ({ text, depth }) => {
        expect(tooDeepAt(text, depth)).toBeUndefined();
        if (depth > 0) expect(tooDeepAt(text, depth - 1)).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  test("names the line where the limit is first passed, after a shebang line", () => {
    expect(tooDeepAt(`#!/usr/bin/env tsexec\nconst a = 1;\n// (((\nf(${"[".repeat(5)}\n${"]".repeat(5)});\n`, 5)).toBe(4);
    expect(tooDeepAt(`\`line 1\nline 2 \${\n(((\n`, 3)).toBe(3);
    expect(tooDeepAt(`x = [1];\n`.repeat(10_000))).toBeUndefined();
  });
});

/** Tokens that nest what follows them without a bracket, each one level at least (what follows is an expression or statement). */
const nestingPrefix = fc.constantFrom(
  "a => ", "(a) =>\n", "x ? 1 : ", "x\n? 1\n: ", "x ? ", "!", "~", "- ", "+ ", "typeof ", "void ", "delete ", "await\n", "new ",
  "a = ", "a +=\n", "a <<= ", "a >>>= ", "a ??= ", "2 ** ", "yield ", "if (x) ", "if (x)\n", "else ", "while (x)\n", "do\n", "l: ",
  "A<", "class extends\n", "keyof ",
);
/** Text between tokens that ends nothing. */
const gap = fc.constantFrom("", " ", "\n", " /* ; , */ ", " // , ;\n", "\n\n");

/** A chain of `levels` nesting tokens, some as brackets or templates, with comments and line breaks between. */
const chain = fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: nestingPrefix }, { weight: 1, arbitrary: fc.constantFrom("(", "[", "{", "`${") }), gap), {
  minLength: 1,
  maxLength: 60,
}).map((parts) => ({
  text: parts.map(([token, between]) => token + between).join("") + "x",
  levels: parts.reduce((sum, [token]) => sum + (token === "`${" ? 2 : 1), 0),
}));

describe("tooDeepAt on nesting without brackets", () => {
  test("counts every nesting token: source nested N levels is refused at any limit below N", () => {
    fc.assert(
      fc.property(chain, fc.constantFrom("", "const v = ", "f(1, 2, ", "x;\n", "a, b, "), ({ text, levels }, before) => {
        expect(tooDeepAt(before + text, levels - 1)).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });

  test("a comma, semicolon or line break ends the expressions before it, not the statements or type arguments around it", () => {
    const arrows = (n: number) => "a => ".repeat(n) + "0";
    expect(tooDeepAt(`f(${Array(50).fill(arrows(40)).join(", ")})`, 50)).toBeUndefined();
    expect(tooDeepAt(`${Array(50).fill(arrows(40)).join(";\n")}`, 50)).toBeUndefined();
    expect(tooDeepAt(`${"x = a\n".repeat(5000)}`, 50)).toBeUndefined();
    // Each `if` or `else` still encloses what follows the comma or the semicolon.
    expect(tooDeepAt(`${"if (x) ".repeat(30)}a, ${arrows(30)}`, 59)).toBe(1);
    // (1 + 2 per `else if`: the 29th one's `(x)` is the 60th level, on line 30.)
    expect(tooDeepAt(`if (x) a;\n${"else if (x) a;\n".repeat(30)}`, 59)).toBe(30);
    expect(tooDeepAt(`${"do ".repeat(30)}a;${" while (0);".repeat(30)}`, 29)).toBe(1);
    expect(tooDeepAt(`${Array.from({ length: 30 }, (_, i) => `l${i}:\n`).join("")}a, ${arrows(30)}`, 59)).toBe(31);
    expect(tooDeepAt(`x = { ${Array.from({ length: 300 }, (_, i) => `p${i}: a => a => 1`).join(", ")} };`, 10)).toBeUndefined();
    // The arguments of a type end at their `>`, not at a comma.
    expect(tooDeepAt(`type T = ${"A<x, ".repeat(60)}x${">".repeat(60)};`, 59)).toBe(1);
    expect(tooDeepAt(`type T = ${"Map<string, number>, ".repeat(300)}1;`, 400)).toBeUndefined();
  });

  test("a long chain of operators nesting to the left is refused past its own limit", () => {
    expect(tooDeepAt(`x = ${"1 + ".repeat(6000)}1;`, maxNesting, 12_010)).toBeUndefined();
    expect(tooDeepAt(`x = ${"1 +\n".repeat(6000)}1;`, maxNesting, 11_000)).toBe(5500);
    expect(tooDeepAt(`x = [${"1 + 1, ".repeat(100_000)}];`)).toBeUndefined();
  });
});

/** Statements real programs are made of: flat, however many. */
const statement = fc.constantFrom(
  "const a = 1;", "let b = a + 2 * c - d / e", "x = y ? f(z) : g(z, w);", "if (a < b) c = d; else e = f;", "if (a) {\n  b();\n} else if (c) {\n  d();\n}",
  "for (let i = 0; i < n; i++) total += xs[i]!;", "while (!done) done = step();", "const m = new Map<string, Array<number>>();",
  "export const f = (a: number, b = 2): number => a ** b;", "items.map((item) => item.name).filter(Boolean).join(', ')", "type T = { a?: string; b: Array<number> }",
  "interface I {\n  a: string\n  b(x: number): void\n}", "label: for (const x of xs) if (x) continue label;", "const re = /[({]+/g, s = `a ${b ? c : d} e`;",
  "switch (x) {\n  case 1:\n  case 2: return typeof y;\n  default: throw new Error('no')\n}", "async function* g() { yield await h(); }", "x &&= y ?? z;",
  "class C extends Base {\n  static x = 1\n  #y = !this.z\n}", "const jsx = cond ? -1 : +2, { a, b: [c] } = obj;",
);

describe("ordinary code passes", () => {
  test("generated flat programs, however long", () => {
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 400 }), fc.constantFrom("\n", "\n\n", " "), (statements, separator) => {
        expect(tooDeepAt(statements.join(separator), 50, 2000)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  test("the repository's own sources and large real files, with a tenth of the margin", () => {
    const files: string[] = [];
    for (const dir of ["src", "examples", "test", "bench", "scripts"]) {
      for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        // Only the repository's own files: bench/node_modules exists where the benchmarks have run, not in CI.
        if (entry.isFile() && /\.[cm]?[jt]sx?$/.test(entry.name) && !entry.parentPath.split("/").includes("node_modules")) {
          files.push(join(entry.parentPath, entry.name));
        }
      }
    }
    const require = createRequire(import.meta.url);
    files.push(require.resolve("typescript"), require.resolve("fast-check"), require.resolve("vitest/package.json").replace("package.json", "dist/index.js"));
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      expect({ file, line: tooDeepAt(readFileSync(file, "utf8"), maxNesting / 10, maxChain / 10) }).toEqual({ file, line: undefined });
    }
  });
});

/** Any UTF-16 unit up to U+FFFF, the unsafe ones often. */
const anyCharacter = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom(..."\u0000\u0007\n\r\u001b\u007f\u0085\u009b\u061c\u200e\u2028\u202e\u2066\u2069\ufeff"),
);

describe("printable", () => {
  test("leaves no control or bidi character, and leaves other text as it is", () => {
    fc.assert(
      fc.property(fc.string({ unit: anyCharacter, maxLength: 64 }), (text) => {
        const shown = printable(text);
        expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."abc ./-_é😀日"), maxLength: 64 }), (text) => {
        expect(printable(text)).toBe(text);
      }),
    );
    expect(printable("a\u001b[2Jb\u0007\r\n\u202e\u009b")).toBe("a\\x1b[2Jb\\x07\\r\\n\\u202e\\x9b");
  });
});
