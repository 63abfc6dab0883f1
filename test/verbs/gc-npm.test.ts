/** gc and npm: a kept script keeps the tree its transpiled output imports from, and the packages that tree links. */
import { existsSync, lstatSync, readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, startRegistry, type Registry } from "../npm/registry.js";

let registry: Registry;
beforeAll(async () => {
  registry = await startRegistry([
    { name: "kept-pkg", version: "1.0.0", files: { "index.js": "module.exports = 'kept';\n" } },
    { name: "dropped-pkg", version: "1.0.0", files: { "index.js": "module.exports = 'dropped';\n" } },
  ]);
});
afterAll(() => registry.close());

function ageAll(dir: string): void {
  const when = Date.now() / 1000 - 90 * 86400;
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    utimesSync(path, when, when);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  for (const name of readdirSync(dir)) walk(join(dir, name));
}

describe("tsexec gc with npm packages", () => {
  test("the tree and packages a recently used script imports stay (and run offline); an unused script's go", async () => {
    const env = { ...npmEnv(registry.url), XDG_DATA_HOME: tempDir("data-") };
    const cacheDir = tempDir("cache-");
    const dir = writeTree({
      // Two directories: npm: specifiers of one directory share its tsexec.lock, and so one tree.
      "kept/kept.ts": `import k from "npm:kept-pkg@^1.0.0";\nexport default ({ lib }: any) => lib.io(() => console.log(k));\n`,
      "dropped/dropped.ts": `import d from "npm:dropped-pkg@^1.0.0";\nexport default ({ lib }: any) => lib.io(() => console.log(d));\n`,
    });
    expect((await runTsexec([join(dir, "kept", "kept.ts")], { env, cacheDir })).stdout).toBe("kept\n");
    expect((await runTsexec([join(dir, "dropped", "dropped.ts")], { env, cacheDir })).stdout).toBe("dropped\n");
    const packages = () => readdirSync(join(cacheDir, "npm", "packages")).filter((n) => !n.startsWith("."));
    expect(packages().length).toBe(2);
    ageAll(cacheDir);
    expect((await runTsexec([join(dir, "kept", "kept.ts")], { env, cacheDir })).stdout).toBe("kept\n"); // a warm run marks its manifest
    const gc = await runTsexec(["gc"], { env, cacheDir });
    expect(gc.stderr).toBe("");
    expect(gc.stdout).toMatch(/removed tree /);
    expect(gc.stdout).toMatch(/removed package .*dropped-pkg@1\.0\.0/);
    expect(packages()).toEqual([expect.stringMatching(/^kept-pkg@1\.0\.0-/)]);
    expect(readdirSync(join(cacheDir, "npm", "trees")).filter((n) => /^[0-9a-f]{32}$/.test(n)).length).toBe(1);
    expect((await runTsexec(["--offline", join(dir, "kept", "kept.ts")], { env, cacheDir })).stdout).toBe("kept\n");
    expect(existsSync(join(cacheDir, ".trash"))).toBe(true);
  });
});
