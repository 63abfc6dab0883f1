/** `tsexec check` sees the types of the packages `npm:` specifiers install (through tsexec.lock, as a run does). */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, startRegistry, type Registry } from "./registry.js";

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry([
    {
      name: "typed-lib",
      version: "1.4.0",
      files: {
        "index.js": "exports.double = (n) => n * 2;\n",
        "index.d.ts": "export declare function double(n: number): number;\n",
      },
    },
  ]);
});
afterAll(() => registry.close());

const script = (call: string) =>
  `import { double } from "npm:typed-lib@^1";\nimport { defineScript } from "tsexec";\n\nexport default defineScript(({ lib }) => lib.io(() => console.log(${call})));\n`;

describe("tsexec check with npm: specifiers", () => {
  it("type-checks against the installed package's own types, and a misuse is an error at its line", async () => {
    const env = { ...npmEnv(registry.url), TSEXEC_CHECKER: "tsc" };
    const cacheDir = tempDir("cache-");
    const good = writeTree({ "tool.ts": script("double(21)") });
    const ok = await runTsexec(["check", join(good, "tool.ts")], { env, cacheDir });
    // Resolving the specifier for the checker pins it, and says so.
    expect(ok.stderr + ok.stdout).toBe(`tsexec: locked npm:typed-lib@^1 at typed-lib@1.4.0: wrote ${join(good, "tsexec.lock")}\n`);
    expect(ok.code).toBe(0);
    expect((await runTsexec([join(good, "tool.ts")], { env, cacheDir })).stdout).toBe("42\n");

    const bad = writeTree({ "tool.ts": script('double("21")') });
    const failed = await runTsexec(["check", join(bad, "tool.ts")], { env, cacheDir });
    expect(failed.code).toBe(1);
    expect(failed.stdout + failed.stderr).toMatch(/tool\.ts:4:\d+: error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'/);
  });
});
