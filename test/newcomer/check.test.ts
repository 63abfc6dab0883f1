/**
 * Issue 21, item 5: `tsexec check` on scripts that work. An `npm:` package
 * without types gets its `@types/NAME` (pinned in tsexec.lock, saying so), or
 * types as any with one note; fp-ts and tsexec resolve wherever the script
 * lives; --frozen changes no lock. A registry the test serves on 127.0.0.1.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, startRegistry, type Registry } from "../npm/registry.js";

let registry: Registry;
beforeAll(async () => {
  registry = await startRegistry([
    { name: "untyped-lib", version: "4.2.0", files: { "index.js": "exports.chunk = (n) => Array.from({ length: n }, (_, i) => i);\n" } },
    { name: "@types/untyped-lib", version: "3.0.0", files: { "index.d.ts": "export declare function chunk(n: string): string;\n" } },
    { name: "@types/untyped-lib", version: "4.1.0", files: { "index.d.ts": "export declare function chunk(n: number): number[];\n" } },
    { name: "bare-lib", version: "1.0.0", files: { "index.js": "module.exports = 'bare';\n" } },
  ]);
});
afterAll(() => registry.close());

const script = (call: string) =>
  `import { chunk } from "npm:untyped-lib@4";\nimport bare from "npm:bare-lib@1";\nimport { pipe } from "fp-ts/function";\nimport { defineScript } from "tsexec";\n\n` +
  `export default defineScript(({ lib }) => lib.io(() => console.log(pipe(${call}, (xs) => xs.length), bare)));\n`;

describe("tsexec check, outside this repository", () => {
  it("types an untyped npm: package by its @types package (pinned, saying so), else as any with one note; fp-ts and tsexec resolve", async () => {
    const env = { ...npmEnv(registry.url), TSEXEC_CHECKER: "tsc" };
    const cacheDir = tempDir("cache-");
    const dir = writeTree({ "s.ts": script("chunk(3)") });
    const lock = join(dir, "tsexec.lock");
    const ok = await runTsexec(["check", "s.ts"], { cwd: dir, env, cacheDir });
    expect(ok.stdout).toBe("");
    expect(ok.stderr).toBe(
      `tsexec: locked npm:untyped-lib@4 at untyped-lib@4.2.0, npm:bare-lib@1 at bare-lib@1.0.0: wrote ${lock}\n` +
        `tsexec: locked npm:@types/untyped-lib@4 at @types/untyped-lib@4.1.0: wrote ${lock}\n` +
        `tsexec: note: npm:bare-lib@1 ships no types and the registry has no @types/bare-lib@1: it is typed any\n`,
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(readFileSync(lock, "utf8")).npm.specifiers).toEqual({
      "untyped-lib@4": "untyped-lib@4.2.0",
      "bare-lib@1": "bare-lib@1.0.0",
      "@types/untyped-lib@4": "@types/untyped-lib@4.1.0",
    });
    // The @types package's declarations are what the script is checked against.
    const again = await runTsexec(["check", "s.ts"], { cwd: dir, env, cacheDir });
    expect(again.stderr).toBe(`tsexec: note: npm:bare-lib@1 ships no types and the registry has no @types/bare-lib@1: it is typed any\n`);
    const badDir = writeTree({ "s.ts": script(`chunk("three")`) });
    const bad = await runTsexec(["check", "s.ts"], { cwd: badDir, env, cacheDir });
    expect(bad.stderr).toContain(`s.ts:6:78: error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.`);
    expect(bad.code).toBe(1);
    expect((await runTsexec([join(dir, "s.ts")], { env, cacheDir })).stdout).toBe("3 bare\n");
  });

  it("--frozen (after check too) changes no tsexec.lock: unpinned types are any, with a note saying how to pin them", async () => {
    const env = { ...npmEnv(registry.url), TSEXEC_CHECKER: "tsc" };
    const dir = writeTree({ "s.ts": script("chunk(3)") });
    const lock = join(dir, "tsexec.lock");
    expect((await runTsexec([join(dir, "s.ts")], { env })).stdout).toBe("3 bare\n"); // pins the packages, not their types
    const before = readFileSync(lock, "utf8");
    const frozen = await runTsexec(["check", "--frozen", "s.ts"], { cwd: dir, env });
    expect(frozen.stderr).toBe(
      `tsexec: note: npm:untyped-lib@4 ships no types and @types/untyped-lib@4 is not pinned in ${lock}, which --frozen forbids changing (tsexec check without --frozen pins it): it is typed any\n` +
        `tsexec: note: npm:bare-lib@1 ships no types and @types/bare-lib@1 is not pinned in ${lock}, which --frozen forbids changing (tsexec check without --frozen pins it): it is typed any\n`,
    );
    expect(frozen.code).toBe(0);
    expect(readFileSync(lock, "utf8")).toBe(before);
    const unpinned = writeTree({ "s.ts": script("chunk(3)") });
    const refused = await runTsexec(["--frozen", "check", "s.ts"], { cwd: unpinned, env });
    expect(refused.stderr).toBe(
      `error: ${join(unpinned, "s.ts")}: ${join(unpinned, "tsexec.lock")} does not pin npm:untyped-lib@4, npm:bare-lib@1, and --frozen (TSEXEC_FROZEN) forbids changing it: run without --frozen to lock them, and commit the lock\n`,
    );
    expect(refused.code).toBe(1);
  });
});
