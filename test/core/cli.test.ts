// End to end: the real `tsexec` binary on real scripts.
import { describe, expect, it } from "vitest";
import { mkdirSync, readdirSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { root, runCommand, runTsexec, tempDir, writeTree } from "../helpers.js";

const printArgs = `export default ({ args, lib }) => lib.io(() => console.log(JSON.stringify(args)));\n`;

describe("running scripts", () => {
  it("runs examples/hello.ts with its args (the README's command)", async () => {
    const r = await runTsexec(["examples/hello.ts", "a", "b"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("examples/hello.ts\na\nb\n");
    expect(r.code).toBe(0);
  });

  it("runs examples/word-count.ts: mapM, attempt, task and fp-ts's traverse from a script", async () => {
    const dir = writeTree({ "a.txt": "one two three\n" });
    const r = await runTsexec([join(root, "examples/word-count.ts"), "a.txt", "missing.txt"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^a\.txt: 3 words\nmissing\.txt: unreadable \(ENOENT: [^\n]*\)\n1 of 2 files readable\n$/);
  });

  it("runs an executable shebang script found through PATH", async () => {
    const r = await runCommand(join(root, "examples/shebang-hello.ts"), ["a", "b"], {
      env: { PATH: `${join(root, "shebang")}:${process.env.PATH}` },
    });
    expect(r.stdout).toBe("Hello, a and b!\n");
    expect(r.code).toBe(0);
  });

  it("reads options only before SCRIPT and passes the rest untouched", async () => {
    const dir = writeTree({ "s.ts": printArgs, "-odd.ts": printArgs });
    const r = await runTsexec(["--verbose", "s.ts", "--help", "-v", "--", "x"], { cwd: dir });
    expect(JSON.parse(r.stdout)).toEqual(["s.ts", "--help", "-v", "--", "x"]);
    const odd = await runTsexec(["--", "-odd.ts", "y"], { cwd: dir });
    expect(JSON.parse(odd.stdout)).toEqual(["-odd.ts", "y"]);
  });

  it("accepts every script extension, CommonJS included", async () => {
    const dir = writeTree({
      "a.ts": printArgs,
      "b.mts": printArgs,
      "c.mjs": printArgs,
      "d.js": printArgs,
      "e.cjs": `module.exports = ({ args, lib }) => lib.io(() => console.log(JSON.stringify(args)));\n`,
      "f.cts": `const path = require("node:path");\nmodule.exports = ({ args, lib }: { args: string[]; lib: any }) => lib.io(() => console.log(JSON.stringify([...args, path.basename(__filename)])));\n`,
      "package.json": `{ "type": "module" }`,
    });
    for (const name of ["a.ts", "b.mts", "c.mjs", "d.js", "e.cjs"]) {
      const r = await runTsexec([name, "1"], { cwd: dir });
      expect(r.stderr, name).toBe("");
      expect(JSON.parse(r.stdout), name).toEqual([name, "1"]);
    }
    const cts = await runTsexec(["f.cts"], { cwd: dir });
    expect(cts.stderr).toBe("");
    expect(JSON.parse(cts.stdout)).toEqual(["f.cts", "f.cts"]);
  });

  it("runs a directory's default.ts, else its index.ts", async () => {
    const dir = writeTree({ "both/default.ts": printArgs, "both/index.ts": "throw 1", "idx/index.ts": printArgs });
    expect(JSON.parse((await runTsexec(["both", "x"], { cwd: dir })).stdout)).toEqual(["both", "x"]);
    expect(JSON.parse((await runTsexec(["idx"], { cwd: dir })).stdout)).toEqual(["idx"]);
  });

  it("resolves relative .ts imports (with .ts, .js or no extension), bare packages next to the script, and tsexec itself", async () => {
    const dir = writeTree({
      "main.ts": [
        `import { twice } from "./lib/math.ts";`,
        `import { greet } from "./lib/greet.js";`,
        `import { shout } from "./lib/shout";`,
        `import pad from "left-pad-ish";`,
        `import { sub } from "dual/sub";`,
        `import { defineScript } from "tsexec";`,
        `import data from "./data.json" with { type: "json" };`,
        `import { legacy } from "old-style/feature";`,
        `export default defineScript(({ lib }) => lib.io(() => console.log(twice(2), greet("x"), shout("y"), pad("z"), sub, data.n, import.meta.filename.endsWith("main.ts"), legacy)));`,
      ].join("\n"),
      "lib/math.ts": `export const twice = (n: number): number => n * 2;`,
      "lib/greet.ts": `import { twice } from "./math.ts";\nexport const greet = (s: string): string => s + twice(1);`,
      "lib/shout.ts": `export function shout(s: string) { return s.toUpperCase(); }`,
      "data.json": `{ "n": 7 }`,
      "node_modules/left-pad-ish/package.json": `{ "name": "left-pad-ish", "main": "lib.cjs" }`,
      "node_modules/left-pad-ish/lib.cjs": `module.exports = (s) => "_" + s;`,
      "node_modules/dual/package.json": `{ "name": "dual", "exports": { "./sub": { "require": "./sub.cjs", "import": "./sub.mjs" } } }`,
      "node_modules/dual/sub.mjs": `export const sub = "esm";`,
      "node_modules/dual/sub.cjs": `exports.sub = "cjs";`,
      // fp-ts's layout: no "exports", a subdirectory whose own package.json names the file.
      "node_modules/old-style/package.json": `{ "name": "old-style", "main": "lib/index.js" }`,
      "node_modules/old-style/feature/package.json": `{ "main": "../lib/feature.js" }`,
      "node_modules/old-style/lib/feature.js": `exports.legacy = "legacy";`,
    });
    const r = await runTsexec([join(dir, "main.ts")], { cwd: tempDir() });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("4 x2 Y _z esm 7 true legacy\n");
  });

  it("uses the transpile cache on the second run and re-transpiles a changed dependency", async () => {
    const cacheDir = tempDir();
    const dir = writeTree({ "main.ts": `import { v } from "./v.ts";\nexport default ({ lib }: any) => lib.io(() => console.log(v));`, "v.ts": `export const v = 1;` });
    expect((await runTsexec(["main.ts"], { cwd: dir, cacheDir })).stdout).toBe("1\n");
    const scripts = join(cacheDir, "scripts");
    // Inode and size, not mtime: the warm path sets the manifest's mtime (tsexec gc's last-use mark), and a rewrite is a new inode (temporary file, rename).
    const stamp = () => Object.fromEntries(readdirSync(scripts).map((f) => [f, [statSync(join(scripts, f)).ino, statSync(join(scripts, f)).size]]));
    const first = stamp();
    expect((await runTsexec(["main.ts"], { cwd: dir, cacheDir })).stdout).toBe("1\n");
    expect(stamp()).toEqual(first); // nothing rewritten: the warm path only reads (and marks last use)
    writeTree({ "v.ts": `export const v = 22;` }, dir);
    expect((await runTsexec(["main.ts"], { cwd: dir, cacheDir })).stdout).toBe("22\n");
  });

  it("exits 0 and discards the final value", async () => {
    const dir = writeTree({ "s.ts": `export default ({ lib }: any) => lib.unit({ big: "value" });` });
    const r = await runTsexec(["s.ts"], { cwd: dir });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });

  it("--version prints tsexec's and Node's versions; --help is rendered and exits 0", async () => {
    const v = await runTsexec(["--version"]);
    expect(v.stdout).toMatch(new RegExp(`^tsexec \\d+\\.\\d+\\.\\d+ \\(Node ${process.version.replace(/\./g, "\\.")}\\)\\n$`));
    const h = await runTsexec(["--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("Usage: tsexec [OPTIONS] SCRIPT [ARGS...]");
    for (const flag of ["--verbose", "--show-trace", "--cache-dir", "--version"]) expect(h.stdout).toContain(flag);
  });

  it("lib.configuration comes from the installed package", async () => {
    const dir = writeTree({ "s.ts": `export default ({ lib }: any) => lib.io(() => console.log(JSON.stringify(lib.configuration)));` });
    const config = JSON.parse((await runTsexec(["s.ts"], { cwd: dir })).stdout);
    expect(config.prefix).toBe(root.replace(/\/$/, ""));
    expect(config.version).toMatchObject({ major: expect.any(Number), minor: expect.any(Number), patchlevel: expect.any(Number) });
  });

  it("tsexec/unsafe-lib gives lib to plain Node code, and run() runs IO values", async () => {
    const dir = writeTree({
      "plain.mjs": [
        `import lib from "tsexec/unsafe-lib";`,
        `import { run } from "tsexec";`,
        `const n = lib.builtins["unsafe-perform-io"](lib.map((x) => x + 1, lib.unit(41)));`,
        `console.log(n, await run(lib.bind(lib.task(async () => 2), (x) => lib.unit(x * 2))));`,
      ].join("\n"),
    });
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(root, join(dir, "node_modules", "tsexec"), "dir");
    const r = await runCommand(process.execPath, ["plain.mjs"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("42 4\n");
  });
});
