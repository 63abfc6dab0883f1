import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseLock, readLock, serializeLock, writeLock, type LockFile } from "../../src/runtime/lockfile.js";
import { tempDir } from "../helpers.js";

const commit = "3b2ac9b094495d31146a68f88c145aae30e7dae1";
const hash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const lock: LockFile = {
  version: 1,
  npm: {
    specifiers: { "picocolors@^1.1.0": "picocolors@1.1.1" },
    packages: { "picocolors@1.1.1": { integrity: "sha512-abc=", dependencies: {} } },
  },
  inputs: { "deploy.ts": { tools: { source: "github:acme/tools/v2", url: "https://github.com/acme/tools.git", ref: "v2", submodules: true, rev: commit, hash, lockedAt: "2026-11-21T18:00:00.000Z" } } },
};

describe("tsexec.lock", () => {
  test("is written with sorted keys and a final newline, only when it changes, and reads back", () => {
    const dir = tempDir("lock-");
    expect(writeLock(dir, lock)).toBe("written");
    const text = readFileSync(join(dir, "tsexec.lock"), "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.indexOf('"inputs"')).toBeLessThan(text.indexOf('"npm"'));
    expect(text.indexOf('"npm"')).toBeLessThan(text.indexOf('"version"'));
    expect(writeLock(dir, lock)).toBe("unchanged");
    expect(readLock(dir)).toEqual(lock);
    expect(serializeLock(readLock(dir)!)).toBe(text);
  });

  test("no lock is undefined; corrupt, wrong-shaped and future locks are errors naming the file and line", () => {
    const dir = tempDir("lock-");
    expect(readLock(dir)).toBeUndefined();
    writeFileSync(join(dir, "tsexec.lock"), '{\n  "version": 1,\n  "npm": {\n');
    expect(() => readLock(dir)).toThrow(/tsexec\.lock:\d+: the lock file is not valid JSON/);
    expect(() => parseLock('{\n  "version": 1,\n  "extra": 2\n}', "L")).toThrow(/^L:3: "extra" is not a field tsexec knows/);
    const badRev = serializeLock(lock).replace(commit, "main");
    expect(() => parseLock(badRev, "L")).toThrow(/"inputs"\."deploy\.ts"\."tools"\."rev" must be a string matching/);
    expect(() => parseLock('{ "version": 2 }', "L")).toThrow(/version 2 is newer than this tsexec understands/);
    expect(() => parseLock('{ "version": 1, "inputs": { "../x.ts": {} } }', "L")).toThrow(/inside the lock's directory/);
  });
});
