// Scripts written against tsexec's types type-check under `tsc --strict`, and misuse does not.
import { describe, expect, it } from "vitest";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { root, runCommand, writeTree } from "../helpers.js";

const tsconfig = JSON.stringify({
  compilerOptions: { strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", types: ["node"], skipLibCheck: false },
  include: ["*.ts"],
});

async function typecheck(files: Record<string, string>) {
  const dir = writeTree({ "tsconfig.json": tsconfig, "package.json": `{ "type": "module" }`, ...files });
  mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
  symlinkSync(root, join(dir, "node_modules", "tsexec"), "dir");
  symlinkSync(join(root, "node_modules", "@types", "node"), join(dir, "node_modules", "@types", "node"), "dir");
  symlinkSync(join(root, "node_modules", "fp-ts"), join(dir, "node_modules", "fp-ts"), "dir");
  return runCommand(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", dir], { cwd: dir });
}

describe("types for script authors", () => {
  it("a script using Script, IO, Lib, defineScript and the fp-ts instances type-checks", async () => {
    const r = await typecheck({
      "script.ts": [
        `import type { IO, Lib, Script } from "tsexec";`,
        `import { defineScript, Applicative } from "tsexec";`,
        `import { pipe } from "fp-ts/function";`,
        `import * as RA from "fp-ts/ReadonlyArray";`,
        `const lengths = (lib: Lib, words: readonly string[]): IO<readonly number[]> =>`,
        `  pipe(words, RA.traverse(Applicative)((w) => lib.unit(w.length)));`,
        `export const typed: Script<number> = ({ lib }) => lib.map((n: number) => n + 1, lib.unit(1));`,
        `export default defineScript(({ args, lib }) =>`,
        `  lib.bind(lengths(lib, args), (ns) => lib.io(() => console.log(ns.reduce((a, b) => a + b, 0)))),`,
        `);`,
      ].join("\n"),
    });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("misuse is a type error: wrong argument order, non-IO results", async () => {
    const r = await typecheck({
      "bad.ts": [
        `import { defineScript } from "tsexec";`,
        `export const a = defineScript(({ lib }) => lib.map(lib.unit(1), (n: number) => n));`,
        `export const b = defineScript(({ lib }) => lib.bind(lib.unit("s"), (n: number) => lib.unit(n)));`,
        `export const c = defineScript(() => Promise.resolve(1));`,
      ].join("\n"),
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("bad.ts(2,");
    expect(r.stdout).toContain("bad.ts(3,");
    expect(r.stdout).toContain("bad.ts(4,");
  });

  it("the examples type-check", async () => {
    const r = await runCommand(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "examples")]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
