/**
 * tsexec.lock written by several processes at once never loses a section:
 * the real tsexec running an npm: script and scripts with git inputs in one
 * directory at the same time, and real processes each adding entries of
 * their own section many times (src/base/lockfile.ts updateLock).
 */
import { spawn } from "node:child_process";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root, runTsexec, tempDir, writeTree } from "../helpers.js";
import { inputsScript, readLockJson, repos, type Repos } from "../flakes/fixtures.js";
import { npmEnv, startRegistry, type Registry } from "../npm/registry.js";

let registry: Registry;
let r: Repos;
beforeAll(async () => {
  registry = await startRegistry([{ name: "alpha", version: "1.0.0" }]);
  r = repos();
});
afterAll(() => registry.close());

describe("tsexec.lock with concurrent writers", () => {
  it("an npm: script and three scripts with git inputs run at once in one directory: the lock holds every section", async () => {
    const inputScripts = ["a.ts", "b.ts", "c.ts"];
    const dir = writeTree({
      "n.ts": `import a from "npm:alpha@^1";\nexport default ({ lib }: any) => lib.io(() => console.log(a));\n`,
      ...Object.fromEntries(inputScripts.map((name) => [name, inputsScript(`{ data: "git+${r.data.url}" }`)])),
    });
    const cacheDir = tempDir("cache-");
    for (let round = 0; round < 2; round++) {
      rmSync(join(dir, "tsexec.lock"), { force: true });
      const runs = await Promise.all(["n.ts", ...inputScripts].map((name) => runTsexec([join(dir, name)], { env: npmEnv(registry.url), cacheDir })));
      for (const run of runs) expect(run).toMatchObject({ code: 0 });
      const lock = readLockJson(dir);
      expect(lock.npm.specifiers).toEqual({ "alpha@^1": "alpha@1.0.0" });
      expect(Object.keys(lock.inputs).sort()).toEqual(inputScripts);
      for (const name of inputScripts) expect(lock.inputs[name].data.rev).toBe(r.data.commits[0]);
      expect(readdirSync(dir).sort()).toEqual([...inputScripts, "n.ts", "tsexec.lock"].sort());
    }
  });

  it("four processes each adding 30 entries of their own section, one at a time: all 120 are there", async () => {
    const dir = tempDir("lock-writers-");
    const bundle = join(tempDir("lock-writers-bundle-"), "lockfile.mjs");
    buildSync({ entryPoints: [join(root, "src/base/lockfile.ts")], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "silent" });
    const worker = join(bundle, "..", "worker.mjs");
    writeFileSync(
      worker,
      `import { updateLock } from "./lockfile.mjs";
const [dir, who, rounds] = process.argv.slice(2);
const entry = { source: "x", url: "file:///x", submodules: false, rev: "${r.data.commits[0]}", hash: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", lockedAt: "2026-01-01T00:00:00.000Z" };
for (let i = 0; i < Number(rounds); i++) {
  updateLock(dir, (current) => {
    const lock = current ?? { version: 1 };
    if (who === "npm") {
      const npm = lock.npm ?? { specifiers: {}, packages: {} };
      return { ...lock, npm: { specifiers: { ...npm.specifiers, ["p" + i + "@^1"]: "p" + i + "@1.0.0" }, packages: { ...npm.packages, ["p" + i + "@1.0.0"]: { integrity: "sha512-abc=", dependencies: {} } } } };
    }
    const script = who + ".ts";
    return { ...lock, inputs: { ...lock.inputs, [script]: { ...lock.inputs?.[script], ["in" + i]: entry } } };
  }, (line) => console.error(line));
}
`,
    );
    const writers = ["npm", "a", "b", "c"];
    const rounds = 30;
    const codes = await Promise.all(
      writers.map((who) => new Promise((resolve) => spawn(process.execPath, [worker, dir, who, String(rounds)], { stdio: "inherit" }).on("exit", resolve))),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const lock = readLockJson(dir);
    expect(Object.keys(lock.npm.specifiers)).toHaveLength(rounds);
    expect(Object.keys(lock.npm.packages)).toHaveLength(rounds);
    for (const who of ["a", "b", "c"]) expect(Object.keys(lock.inputs[`${who}.ts`])).toHaveLength(rounds);
    expect(readdirSync(dir)).toEqual(["tsexec.lock"]);
  });
});
