// The built tsexec's split (scripts/build.mjs): a warm run compiles the core alone; lib's heavier
// primitives load dist/lazy.cjs on first call, synchronously, and behave as if imported statically.
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { root, runTsexec, tempDir, writeTree } from "../helpers.js";

/** Preloaded into tsexec: prints, as it exits, which of dist/*.cjs the process read. */
const readLogger = `
const fs = require("node:fs");
const read = new Set();
const original = fs.readFileSync;
fs.readFileSync = function (file, ...rest) {
  if (typeof file === "string" && /\\/dist\\/\\w+\\.cjs$/.test(file)) read.add(file.replace(/^.*\\/dist\\//, ""));
  return original.call(this, file, ...rest);
};
process.on("exit", () => process.stderr.write("read: " + [...read].sort().join(" ") + "\\n"));
`;

/** Runs `script` twice with one cache (the second run is warm); yields the second run and the scripts it read. */
async function warmRun(dir: string, script: string) {
  const cacheDir = tempDir("cache-");
  const env = { NODE_OPTIONS: `--require ${join(dir, "read-logger.cjs")}` };
  const first = await runTsexec([join(dir, script)], { cacheDir, env });
  expect(first.stderr).not.toMatch(/error/);
  const second = await runTsexec([join(dir, script)], { cacheDir, env });
  return { ...second, read: /read: (.*)/.exec(second.stderr)?.[1]?.split(" ").filter(Boolean) };
}

describe("the built scripts a run compiles", () => {
  const dir = writeTree({
    "read-logger.cjs": readLogger,
    "hello.ts": `export default ({ lib }: any) => lib.io(() => console.log("hello"));\n`,
    // Argument errors are thrown while the program is built; dlopen's IO runs under unsafePerformIO.
    "lazy.ts": `export default ({ lib }: any) => {
  const cos0 = lib.builtins.unsafePerformIO(lib.dlopen("libm.so.6", "double cos(double)", [0]));
  const thrown = (f: () => unknown) => { try { f(); return "nothing thrown"; } catch (error) { return (error as Error).message; } };
  return lib.io(() => {
    console.log(cos0);
    console.log(thrown(() => lib.dlopen(42, "int f(void)", [])));
    console.log(thrown(() => lib.toFile("a", 42)));
    console.log(thrown(() => lib.build({})));
    console.log([lib.builtins.fetchgit, lib.builtins.reexec, lib.import, lib.derivation, lib.runCommand].map((f) => typeof f).join(" "));
  });
};\n`,
  });

  it("a warm run of a script without heavy primitives reads dist/core.cjs alone", async () => {
    const run = await warmRun(dir, "hello.ts");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("hello\n");
    expect(run.read).toEqual(["core.cjs"]);
  });

  it("dlopen, derivations and the rest load dist/lazy.cjs on first call, not the cold script, and throw as they always did", async () => {
    const run = await warmRun(dir, "lazy.ts");
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toBe("1");
    expect(lines[1]).toMatch(/^lib\.dlopen expects a library path, a library name or a derivation as its first argument/);
    expect(lines[2]).toMatch(/lib\.toFile/);
    expect(lines[3]).toMatch(/^lib\.build expects a derivation/);
    expect(lines[4]).toBe("function function function function function");
    expect(run.read).toEqual(["core.cjs", "lazy.cjs"]);
  });

  it("the build left the three scripts and their code caches", async () => {
    const { existsSync } = await import("node:fs");
    for (const name of ["core.cjs", "lazy.cjs", "cold.cjs"]) {
      expect(existsSync(join(root, "dist", name))).toBe(true);
      expect(existsSync(join(root, "dist", `${name}.cache`))).toBe(true);
    }
  });
});
