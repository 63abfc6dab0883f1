import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseLock, readLock, serializeLock, updateLock, type LockFile } from "../../src/base/lockfile.js";
import { tempDir } from "../helpers.js";

const noLog = () => {};
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
    expect(updateLock(dir, () => lock, noLog)).toBe("written");
    const text = readFileSync(join(dir, "tsexec.lock"), "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.indexOf('"inputs"')).toBeLessThan(text.indexOf('"npm"'));
    expect(text.indexOf('"npm"')).toBeLessThan(text.indexOf('"version"'));
    expect(updateLock(dir, () => lock, noLog)).toBe("unchanged");
    expect(updateLock(dir, () => undefined, noLog)).toBe("unchanged");
    expect(readdirSync(dir)).toEqual(["tsexec.lock"]);
    expect(readLock(dir)).toEqual(lock);
    expect(serializeLock(readLock(dir)!)).toBe(text);
  });

  test("an update changes what is there now, under tsexec.lock.lock, and leaves no trace of that lock", () => {
    const dir = tempDir("lock-");
    writeFileSync(join(dir, "tsexec.lock"), serializeLock({ version: 1, npm: lock.npm! }));
    const seen: (LockFile | undefined)[] = [];
    const status = updateLock(dir, (current) => (seen.push(current), { ...current!, inputs: lock.inputs! }), noLog);
    expect(status).toBe("written");
    expect(seen).toHaveLength(2); // once to see a change, once under the lock
    expect(readLock(dir)).toEqual(lock);
    expect(readdirSync(dir)).toEqual(["tsexec.lock"]);
  });

  test("a writer killed holding the lock's lock: the next update breaks it as stale, and sweeps what it left", () => {
    const dir = tempDir("lock-");
    const dead = 2147483646;
    writeFileSync(join(dir, "tsexec.lock.lock"), JSON.stringify({ pid: dead, since: 0 }));
    writeFileSync(join(dir, `tsexec.lock.lock.${dead}-a-0-b.tmp`), "");
    writeFileSync(join(dir, `tsexec.lock.${dead}-a-0-b.tmp`), "{");
    expect(updateLock(dir, () => lock, noLog)).toBe("written");
    expect(readdirSync(dir)).toEqual(["tsexec.lock"]);
  });

  test("a read-only directory: 'read-only', and nothing is created there", () => {
    const dir = tempDir("lock-");
    chmodSync(dir, 0o555);
    try {
      expect(updateLock(dir, () => lock, noLog)).toBe("read-only");
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      chmodSync(dir, 0o755);
    }
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
