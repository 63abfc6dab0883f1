// The SHA-256 behind derivation hashes (and git cache keys): the WebAssembly module and the plain-JS
// implementation both give node:crypto's digest, on any text and across the module's buffer size;
// the committed module is what scripts/sha256-wasm.mjs makes; sha256Hex gives the same digests
// before and after it moves from plain JS to WebAssembly.
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { sha256Hex, sha256HexJs, sha256HexWasm } from "../../src/base/sha256.js";
import { sha256WasmLayout } from "../../src/base/sha256-wasm.js";
// @ts-ignore: a plain ES module script, without types
import { sha256WasmSource, layout } from "../../scripts/sha256-wasm.mjs";

const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("sha256Hex", () => {
  it("hashes 50 derivation-sized texts the same before and after moving to WebAssembly", () => {
    const texts = Array.from({ length: 50 }, (_, i) => `{"format":"tsexec-derivation-1","name":"drv-${i}","recipe":${"x".repeat(150 + i)}}`);
    expect(texts.map(sha256Hex)).toEqual(texts.map(sha));
  });

  it("WebAssembly and plain JS agree with node:crypto on every string (fast-check)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (text) => sha256HexWasm(text) === sha(text) && sha256HexJs(text) === sha(text)),
      { numRuns: 300 },
    );
    // Lone surrogates become U+FFFD in both, as node:crypto encodes them.
    for (const text of ["\ud800", "a\udc00b", "\ud83d"]) expect([sha256HexWasm(text), sha256HexJs(text)]).toEqual([sha(text), sha(text)]);
  });

  it("WebAssembly pads right at every tail length, and streams texts longer than its message area", () => {
    for (let length = 0; length < 200; length++) expect(sha256HexWasm("u".repeat(length))).toBe(sha("u".repeat(length)));
    const area = sha256WasmLayout.pageBytes - sha256WasmLayout.message - 128;
    for (const length of [area - 1, area, area + 1, area + 63, 2 * area + 70, 200_000]) {
      expect(sha256HexWasm("q".repeat(length))).toBe(sha("q".repeat(length)));
      expect(sha256HexWasm("é".repeat(length))).toBe(sha("é".repeat(length))); // two bytes a character
    }
  });

  it("the committed module is what scripts/sha256-wasm.mjs makes", () => {
    expect(readFileSync(new URL("../../src/base/sha256-wasm.ts", import.meta.url), "utf8")).toBe(sha256WasmSource());
    expect(sha256WasmLayout).toEqual(layout);
  });
});
