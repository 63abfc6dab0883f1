// Newcomers' mistakes, on the real binary: each gets one message that says what to do.
import { describe, expect, it } from "vitest";
import { runTsexec, writeTree } from "../helpers.js";

async function fails(script: string, extra: Record<string, string> = {}) {
  const dir = writeTree({ "s.ts": script, ...extra });
  const r = await runTsexec(["s.ts"], { cwd: dir });
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  return { stderr: r.stderr, dir };
}

describe("mistakes explained", () => {
  it("a Promise returned by lib.io's function points at lib.task", async () => {
    const r = await fails(`import { readFile } from "node:fs/promises";\nexport default ({ lib }: any) => lib.io(() => readFile("x.txt", "utf8"));\n`);
    expect(r.stderr).toBe(
      `error: the function given to lib.io (() => readFile("x.txt", "utf8")) returned a Promise: lib.io does not await it; for asynchronous work use lib.task(() => promise)\n`,
    );
  });

  it("the refused Promise's later rejection is no crash: lib.attempt sees the one error", async () => {
    const script = [
      `import { readFile } from "node:fs/promises";`,
      `export default ({ lib }: any) => lib.bind(lib.attempt(lib.io(() => readFile("missing.txt"))), (e: any) =>`,
      `  lib.task(() => new Promise((done) => setTimeout(() => done(console.log(e._tag)), 50))));`,
    ].join("\n");
    const dir = writeTree({ "s.ts": script });
    const r = await runTsexec(["s.ts"], { cwd: dir });
    expect(r.stdout).toBe("Left\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("a Promise returned by lib.map's function, named", async () => {
    const r = await fails(`export default ({ lib }: any) => lib.map(async function load(n: number) { return n; }, lib.unit(1));\n`);
    expect(r.stderr).toBe(
      "error: the function given to lib.map (load) returned a Promise: lib.map does not await it; for asynchronous work use lib.task(() => promise)\n",
    );
  });

  it("a thenable given to lib.unit names the script line", async () => {
    const r = await fails(`export default ({ lib }: any) =>\n  lib.unit({ then: (k: (n: number) => void) => k(1) });\n`);
    expect(r.stderr).toBe(
      `error: lib.unit was given a Promise: an IO cannot yield a Promise; to await it, use lib.task(() => promise)\n    at default (${r.dir}/s.ts:2:7)\n`,
    );
  });

  it("a rejected lib.task names the line that built it, without --show-trace", async () => {
    const script = [
      `import { readFile } from "node:fs/promises";`,
      `export default ({ lib }: any) =>`,
      `  lib.bind(lib.unit("missing.txt"), (name: string) =>`,
      `    lib.task(() => readFile(name, "utf8")));`,
    ].join("\n");
    const r = await fails(script);
    expect(r.stderr).toBe(`error: ENOENT: no such file or directory, open 'missing.txt'\n    in the lib.task built at ${r.dir}/s.ts:4:9\n`);
  });

  it("the innermost task is named when tasks nest, and lib.attempt still catches", async () => {
    const script = [
      `const fail = (lib: any) => lib.task(() => Promise.reject(new Error("inner")));`,
      `export default ({ lib }: any) =>`,
      `  lib.bind(lib.attempt(fail(lib)), (e: any) => lib.bind(lib.io(() => console.log(e._tag)), () => fail(lib)));`,
    ].join("\n");
    const dir = writeTree({ "s.ts": script });
    const r = await runTsexec(["s.ts"], { cwd: dir });
    expect(r.stdout).toBe("Left\n");
    expect(r.stderr).toBe(`error: inner\n    at ${dir}/s.ts:1:58\n    in the lib.task built at ${dir}/s.ts:1:32\n`);
  });

  it("an error thrown by the script's own code names its line", async () => {
    const r = await fails(`export default ({ lib }: any) =>\n  lib.io(() => JSON.parse("{oops"));\n`);
    expect(r.stderr).toMatch(new RegExp(`^error: .*JSON.*\\n    at JSON\\.parse \\(<anonymous>\\)\\n    at ${r.dir}/s\\.ts:2:21\\n$`));
  });

  it("an async default export is refused before anything runs", async () => {
    const r = await fails(`export default async function main({ lib }: any) { console.log("ran"); return lib.unit(1); }\n`);
    expect(r.stderr).toBe(
      "error: the function exported by s.ts is async, so it returns a Promise, not an IO value: drop `async` and wrap asynchronous work in lib.task(() => promise)\n",
    );
  });

  it("a forgotten return: the script's function, lib.bind's, lib.mapM's", async () => {
    expect((await fails(`export default ({ args, lib }: any) => { lib.io(() => console.log(args)); };\n`)).stderr).toBe(
      "error: the function exported by s.ts returned undefined, not an IO value (did the function forget to return?)\n",
    );
    expect((await fails(`export default ({ lib }: any) => lib.bind(lib.unit(1), function show(n: number) { lib.io(() => console.log(n)); });\n`)).stderr).toBe(
      "error: the function given to lib.bind (show) returned undefined, not an IO value (did the function forget to return?)\n",
    );
    expect((await fails(`export default ({ lib }: any) => lib.mapM((n: number) => { lib.unit(n); }, [1, 2]);\n`)).stderr).toMatch(
      /^error: the function given to lib\.mapM \(\(n\) => \{ lib\.unit\(n\); \}\) returned undefined for element 0, not an IO value \(did the function forget to return\?\)\n/,
    );
  });

  it("a missing relative import: file:line and the closest existing file", async () => {
    const r = await fails(`// helpers\nimport { x } from "./utli.ts";\nexport default ({ lib }: any) => lib.unit(x);\n`, { "util.ts": "export const x = 1;\n", "other.ts": "" });
    expect(r.stderr).toBe(`error: cannot find module './utli.ts' imported from ${r.dir}/s.ts:2:19: no such file; did you mean './util.ts'?\n`);
    const far = await fails(`import "./nothing-like-it.ts";\nexport default ({ lib }: any) => lib.unit(1);\n`);
    expect(far.stderr).toBe(`error: cannot find module './nothing-like-it.ts' imported from ${far.dir}/s.ts:1:8: no such file (check the path)\n`);
  });

  it("no internal names: anonymous functions are shown by their source", async () => {
    const r = await fails(`export default ({ lib }: any) => lib.bind(lib.unit(1), (n: number) => n + 1);\n`);
    expect(r.stderr).toBe("error: the function given to lib.bind ((n) => n + 1) returned a number (2), not an IO value\n");
    expect(r.stderr).not.toMatch(/\(_\)|\banonymous\b/);
    const stuck = await fails(`export default ({ lib }: any) => lib.task(() => new Promise(() => {}));\n`);
    expect(stuck.stderr).toBe(
      "error: the program can never finish: it waits on lib.task(() => new Promise(() => {})), whose promise nothing is left to settle (no timer, socket or child process is pending)\n",
    );
  });
});
