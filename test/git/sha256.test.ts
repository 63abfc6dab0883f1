// The URL-key SHA-256 agrees with node:crypto on any string (fast-check), and on FIPS 180-4's examples.
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { sha256Hex } from "../../src/base/sha256.js";

describe("sha256Hex", () => {
  it("matches the standard's test vectors", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("agrees with node:crypto on every string, across block boundaries and non-ASCII text", () => {
    const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (s) => sha256Hex(s) === sha(s)), { numRuns: 500 });
    for (let length = 50; length < 140; length++) expect(sha256Hex("u".repeat(length))).toBe(sha("u".repeat(length)));
  });
});
