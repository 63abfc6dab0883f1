/** JavaScript scripts get npm packages too: npm: specifiers and a project's lock, through the loader's cache. */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, packageLock, startRegistry, type Registry } from "./registry.js";

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry([{ name: "gamma", version: "1.0.0" }]);
});
afterAll(() => registry.close());

describe("JavaScript scripts", () => {
  it("an .mjs script with an npm: specifier is locked, and its warm runs ask no registry", async () => {
    const dir = writeTree({ "t.mjs": `import g from "npm:gamma@1";\nexport default ({ lib }) => lib.io(() => console.log(g, import.meta.url.endsWith("/t.mjs")));\n` });
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(dir, "t.mjs")], { env: npmEnv(registry.url), cacheDir });
    expect(out.stderr).toBe(`tsexec: locked npm:gamma@1 at gamma@1.0.0: wrote ${join(dir, "tsexec.lock")}\n`);
    expect(out.stdout).toBe("gamma@1.0.0 true\n");
    registry.requests.length = 0;
    expect((await runTsexec([join(dir, "t.mjs")], { env: npmEnv(registry.url), cacheDir })).stdout).toBe(out.stdout);
    expect(registry.requests).toEqual([]);
  });

  it("a .js script in a project with a lock and no node_modules", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", type: "module", dependencies: { gamma: "1" } }),
      "package-lock.json": packageLock(registry, { dependencies: { gamma: "1" } }, { "node_modules/gamma": { name: "gamma", version: "1.0.0" } }),
      "t.js": `import g from "gamma";\nexport default ({ lib }) => lib.io(() => console.log(g));\n`,
    });
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(dir, "t.js")], { env: npmEnv(registry.url), cacheDir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("gamma@1.0.0\n");
    registry.requests.length = 0;
    expect((await runTsexec([join(dir, "t.js")], { env: npmEnv(registry.url), cacheDir })).stdout).toBe(out.stdout);
    expect(registry.requests).toEqual([]);
  });

  it("plain JavaScript still runs as it is (a missing relative module is Node's error)", async () => {
    const dir = writeTree({ "t.mjs": `export default ({ lib }) => lib.io(() => console.log("plain"));\n` });
    expect((await runTsexec([join(dir, "t.mjs")])).stdout).toBe("plain\n");
  });
});
