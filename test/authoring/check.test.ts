// `tsexec check` and `--check` on the real binary: tsexec's own types and the loader's options, no tsconfig needed.
import { describe, expect, it } from "vitest";
import { root, runTsexec, writeTree } from "../helpers.js";

const good = [
  `import { readFileSync } from "node:fs";`,
  `import { defineScript, type IO } from "tsexec";`,
  `import { twice } from "./twice.ts";`,
  `const size = (file: string): number => readFileSync(file).length;`,
  `export default defineScript(({ args, lib }) => lib.map((n: number) => console.log(twice(n)), lib.io(() => size(args[0]!))));`,
  `export const typed: IO<number> = { } as IO<number>;`,
].join("\n");
const twice = `export const twice = (n: number): number => 2 * n;\n`;
const bad = [`import { defineScript } from "tsexec";`, `export default defineScript(({ lib }) => {`, `\tconst n: number = "a";`, `  return lib.map((s: string) => s, lib.unit(n));`, `});`, ``].join("\n");
const badOutput = [
  `s.ts:3:8: error TS2322: Type 'string' is not assignable to type 'number'.`,
  `  3 |  const n: number = "a";`,
  `    |        ^`,
  `s.ts:4:36: error TS2345: Argument of type 'IO<number>' is not assignable to parameter of type 'IO<string>'.`,
  `  Type 'number' is not assignable to type 'string'.`,
  `  4 |   return lib.map((s: string) => s, lib.unit(n));`,
  `    |                                    ^`,
  ``,
].join("\n");

describe("tsexec check", () => {
  it("passes a script using tsexec's types, Node's and a ./x.ts import, with no tsconfig: no output, exit 0", async () => {
    const dir = writeTree({ "s.ts": good, "twice.ts": twice });
    const r = await runTsexec(["check", "s.ts"], { cwd: dir });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("prints each error as file:line:col with a code frame, then one error line; exit 1", async () => {
    const dir = writeTree({ "s.ts": bad });
    const r = await runTsexec(["check", "s.ts"], { cwd: dir });
    expect(r.stderr).toBe(`${badOutput}error: 2 type errors in 1 file (listed above)\n`);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(1);
  });

  it("TypeScript's API (the fallback checker) reports the same", async () => {
    const dir = writeTree({ "s.ts": bad });
    const r = await runTsexec(["check", "s.ts"], { cwd: dir, env: { TSEXEC_CHECKER: "tsc" } });
    expect(r.stderr).toBe(`${badOutput}error: 2 type errors in 1 file (listed above)\n`);
    expect(r.code).toBe(1);
  });

  it("honours a tsconfig.json beside the script", async () => {
    const loose = `export default ({ lib }) => lib.unit(1);\n`; // an implicit any: an error under strict
    const strict = await runTsexec(["check", "s.ts"], { cwd: writeTree({ "s.ts": loose }) });
    expect(strict.stderr).toContain("s.ts:1:19: error TS7031: Binding element 'lib' implicitly has an 'any' type.");
    const dir = writeTree({ "s.ts": loose, "tsconfig.json": `{ "compilerOptions": { "strict": false, "module": "ESNext", "moduleResolution": "Bundler" } }` });
    const r = await runTsexec(["check", "s.ts"], { cwd: dir });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Above the script, within its package, as an editor finds it; not beyond the package.json.
    const nested = writeTree({ "bin/s.ts": loose, "package.json": "{}", "tsconfig.json": `{ "compilerOptions": { "strict": false } }` });
    expect((await runTsexec(["check", "bin/s.ts"], { cwd: nested })).code).toBe(0);
    const outside = writeTree({ "pkg/s.ts": loose, "pkg/package.json": "{}", "tsconfig.json": `{ "compilerOptions": { "strict": false } }` });
    expect((await runTsexec(["check", "pkg/s.ts"], { cwd: outside })).code).toBe(1);
  });

  it("a tsconfig with options TypeScript 7 dropped is checked by TypeScript 5's API instead", async () => {
    const dir = writeTree({
      "s.ts": `export default ({ lib }: any) => lib.unit(1);\n`,
      "tsconfig.json": `{ "compilerOptions": { "strict": true, "module": "commonjs", "moduleResolution": "node", "target": "es5", "baseUrl": "." } }`,
    });
    const r = await runTsexec(["check", "s.ts"], { cwd: dir });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("every example passes (examples/tsconfig.json)", async () => {
    const r = await runTsexec(["check", "examples"], { cwd: root });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("refuses what it cannot check, naming it", async () => {
    const dir = writeTree({ "s.mjs": "export default 1;\n", "empty/x.txt": "" });
    expect((await runTsexec(["check", "s.mjs"], { cwd: dir })).stderr).toBe(
      "error: cannot type-check 's.mjs': only TypeScript is checked (.ts, .mts, .cts, .tsx, or a script without an extension); check a .ts file that imports it\n",
    );
    expect((await runTsexec(["check", "empty"], { cwd: dir })).stderr).toBe("error: 'empty' holds no TypeScript file and no tsconfig.json: name the scripts to check\n");
    expect((await runTsexec(["check", "nope.ts"], { cwd: dir })).stderr).toBe("error: cannot find script 'nope.ts': no such file or directory\n");
  });

  it("checks a shebang script without an extension, its ./x.ts imports resolved beside it, errors naming the script", async () => {
    const dir = writeTree({ "tool": `#!/usr/bin/env tsexec\n${good}`, "twice.ts": twice, "broken": `#!/usr/bin/env tsexec\n${bad}` });
    const ok = await runTsexec(["check", "tool"], { cwd: dir });
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const r = await runTsexec(["check", "./broken"], { cwd: dir });
    expect(r.stderr).toBe(`${badOutput.replace(/^s\.ts:(\d+)/gm, (_, line) => `broken:${Number(line) + 1}`).replace(/^(  |    )(\d+) \|/gm, (_, pad, line) => `${pad}${Number(line) + 1} |`)}error: 2 type errors in 1 file (listed above)\n`);
    expect(r.code).toBe(1);
    const run = await runTsexec(["--check", "broken"], { cwd: dir });
    expect(run.stderr).toMatch(/^broken:4:8: error TS2322: [^]*\nerror: 2 type errors \(listed above\): the script was not run\n$/);
  });

  it("--check stops a run with type errors before any of it runs, and runs a script that passes", async () => {
    const dir = writeTree({ "s.ts": `console.log("loaded");\n${bad}`, "ok.ts": good, "twice.ts": twice });
    const r = await runTsexec(["--check", "s.ts"], { cwd: dir });
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^s\.ts:4:8: error TS2322: [^]*\nerror: 2 type errors \(listed above\): the script was not run\n$/);
    expect(r.code).toBe(1);
    const ok = await runTsexec(["--check", "ok.ts"], { cwd: dir });
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toBe(`${2 * Buffer.byteLength(good)}\n`);
  });
});
