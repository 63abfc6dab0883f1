// Bad input, end to end: each gets a clear message, exit 1, and nothing half-done.
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { runTsexec, tempDir, writeTree } from "../helpers.js";

async function failing(files: Record<string, string>, args: string[]) {
  const dir = writeTree(files);
  const cacheDir = tempDir();
  const r = await runTsexec(args, { cwd: dir, cacheDir });
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  return { ...r, dir, cacheDir };
}

describe("bad input", () => {
  it("no script", async () => {
    const r = await failing({}, []);
    expect(r.stderr).toBe("error: no script given\nTry 'tsexec --help' for more information.\n");
  });

  it("an unknown option, and an option missing its value", async () => {
    expect((await failing({}, ["--frobnicate", "s.ts"])).stderr).toBe("error: unknown option '--frobnicate'\nTry 'tsexec --help' for more information.\n");
    expect((await failing({}, ["--cache-dir"])).stderr).toContain("option '--cache-dir' needs a value (DIR)");
  });

  it("script not found", async () => {
    expect((await failing({}, ["nope.ts"])).stderr).toBe("error: cannot find script 'nope.ts': no such file or directory\n");
  });

  it("a directory with neither default.ts nor index.ts", async () => {
    expect((await failing({ "d/other.ts": "" }, ["d"])).stderr).toBe(
      "error: 'd' is a directory with neither default.ts nor index.ts: name the script to run\n",
    );
  });

  it("a syntax error names file:line:col, and leaves no cache entry", async () => {
    const r = await failing({ "bad.ts": "// ok\nconst x: number = ;\n" }, ["bad.ts"]);
    expect(r.stderr).toMatch(new RegExp(`^error: ${join(r.dir, "bad.ts").replace(/[/.]/g, "\\$&")}:2:19: Unexpected token`));
    expect(existsSync(join(r.cacheDir, "scripts")) ? readdirSync(join(r.cacheDir, "scripts")) : []).toEqual([]);
  });

  it("a syntax error in a JavaScript script names file:line", async () => {
    const r = await failing({ "bad.mjs": "export default (\n" }, ["bad.mjs"]);
    expect(r.stderr).toMatch(/^error: \/\S+\/bad\.mjs:2:1: /);
    const cjs = await failing({ "bad.cjs": "module.exports = 1 +;\n" }, ["bad.cjs"]);
    expect(cjs.stderr).toMatch(/^error: \/\S+\/bad\.cjs:1:21: Unexpected token/);
  });

  it("an error in an imported module names that module", async () => {
    const r = await failing({ "main.ts": `import "./helper.ts";\nexport default () => null;`, "helper.ts": "let = ;" }, ["main.ts"]);
    expect(r.stderr).toMatch(/^error: \/\S+\/helper\.ts:1:7: Unexpected token/);
  });

  it("a missing relative import names the importer", async () => {
    const r = await failing({ "main.ts": `import { x } from "./gone.ts";\nexport default () => x;` }, ["main.ts"]);
    expect(r.stderr).toMatch(/^error: cannot find module '\.\/gone\.ts' imported from \/\S+\/main\.ts/);
  });

  it("a missing package says to install it", async () => {
    const r = await failing({ "main.ts": `import x from "not-installed-pkg";\nexport default () => x;` }, ["main.ts"]);
    expect(r.stderr).toMatch(/cannot find package 'not-installed-pkg' imported from \S+main\.ts: install it next to the script \(npm install not-installed-pkg\)/);
  });

  it("no function exported", async () => {
    expect((await failing({ "s.ts": "export default 42;" }, ["s.ts"])).stderr).toBe("error: s.ts does not export a function (it exports a number (42))\n");
    expect((await failing({ "s.ts": "export const x = 1;" }, ["s.ts"])).stderr).toBe("error: s.ts does not export a function (it has no default export): add `export default ({ args, lib }) => ...`\n");
  });

  it("the function returns a non-IO, including a Promise", async () => {
    expect((await failing({ "s.ts": "export default () => 3;" }, ["s.ts"])).stderr).toBe(
      "error: the function exported by s.ts returned a number (3), not an IO value\n",
    );
    expect((await failing({ "s.ts": "export default () => Promise.resolve(3);" }, ["s.ts"])).stderr).toContain(
      "error: the function exported by s.ts returned a Promise, not an IO value: a Promise is not an IO value (is the function async?); wrap asynchronous work in lib.task(() => promise)",
    );
    // An async function is refused before it is called (test/authoring/mistakes.test.ts).
    expect((await failing({ "s.ts": "export default async () => 3;" }, ["s.ts"])).stderr).toContain("error: the function exported by s.ts is async");
  });

  it("map given a non-function points at the script line", async () => {
    const r = await failing({ "s.ts": "export default ({ lib }: any) =>\n  lib.map(3, lib.unit(1));\n" }, ["s.ts"]);
    expect(r.stderr).toMatch(/^error: lib\.map expects a function as its first argument \(map f io\), got a number \(3\)\n {4}at .*s\.ts:2:7/);
  });

  it("join of a non-IO", async () => {
    const r = await failing({ "s.ts": "export default ({ lib }: any) => lib.join(lib.unit(5));" }, ["s.ts"]);
    expect(r.stderr).toBe("error: lib.join: the IO yielded a number (5), not an IO value\n");
  });

  it("an exception inside a mapped function shows a stack with the .ts lines", async () => {
    const script = [
      "interface Point { x: number }",
      "function explode(p: Point): number {",
      "  throw new Error(`bad point ${p.x}`);",
      "}",
      "export default ({ lib }: any) => lib.map(explode, lib.unit({ x: 1 }));",
    ].join("\n");
    const r = await failing({ "s.ts": script }, ["s.ts"]);
    expect(r.stderr).toMatch(/^error: bad point 1\n {4}at explode \(\/\S+\/s\.ts:3:9\)\n/);
    expect(r.stderr).not.toContain("/dist/");
  });

  it("a CommonJS (.cts) script's stack points at its own lines too", async () => {
    const script = [
      "type Input = { args: string[]; lib: any };",
      "interface Unused {",
      "  field: number;",
      "}",
      "function fail(): never {",
      "  throw new Error('cts failure');",
      "}",
      "module.exports = ({ lib }: Input) => lib.map(fail, lib.unit(1));",
    ].join("\n");
    const r = await failing({ "s.cts": script }, ["s.cts"]);
    expect(r.stderr).toMatch(/^error: cts failure\n {4}at fail \(\/\S+\/s\.cts:6:9\)/);
  });

  it("--show-trace prints where the failing chain was built", async () => {
    const script = [
      "export default ({ lib }: any) => {",
      "  const read = lib.io(() => 1);",
      "  const checked = lib.map(function check(n: number) { if (n > 0) throw new Error('too big'); return n; }, read);",
      "  return lib.bind(checked, function report(n: number) { return lib.unit(n); });",
      "};",
    ].join("\n");
    const dir = writeTree({ "s.ts": script });
    const plain = await runTsexec(["s.ts"], { cwd: dir });
    expect(plain.stderr).not.toContain("while");
    const traced = await runTsexec(["--show-trace", "s.ts"], { cwd: dir });
    expect(traced.code).toBe(1);
    expect(traced.stderr).toMatch(/ {2}while mapping check at \/\S+\/s\.ts:3:23\n {2}while binding report at \/\S+\/s\.ts:4:14\n$/);
  });

  it("unsafePerformIO on asynchronous work names the step", async () => {
    const script = "export default ({ lib }: any) => lib.io(() => lib.builtins.unsafePerformIO(lib.task(function fetchIt() { return Promise.resolve(1); })));";
    const r = await failing({ "s.ts": script }, ["s.ts"]);
    expect(r.stderr).toContain("error: unsafePerformIO cannot run asynchronous work: it reached lib.task(fetchIt)");
  });

  it("an exception thrown by the script's function itself", async () => {
    const r = await failing({ "s.ts": "export default () => {\n  throw new TypeError('no args');\n};" }, ["s.ts"]);
    expect(r.stderr).toMatch(/^error: no args\n {4}at default \(\/\S+\/s\.ts:2:9\)/);
  });

  it("an unwritable cache directory says which and how to choose another", async () => {
    const dir = writeTree({ "s.ts": "export default ({ lib }: any) => lib.unit(1);", "cache": "a file, not a directory" });
    const r = await runTsexec(["--cache-dir", "cache", "s.ts"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot write to the cache directory \/\S+\/cache\/scripts \(\w+\): make it writable, or choose another with --cache-dir or \$TSEXEC_CACHE_DIR\n$/);
  });
});
