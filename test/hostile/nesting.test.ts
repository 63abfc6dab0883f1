/**
 * The nesting guard (src/runtime/loader/nesting.ts) against generated source:
 * brackets and template literals nest, while brackets inside strings,
 * comments and regular expressions do not count; and the escaping of
 * untrusted text for the terminal (src/runtime/printable.ts).
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { tooDeepAt } from "../../src/runtime/loader/nesting.js";
import { printable } from "../../src/runtime/printable.js";

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
  ` = /[(]+\\/(/g`,
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
