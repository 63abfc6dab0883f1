// An IO value built and dropped (zx's `$` habit) is caught twice, on the real binary:
// at run time when lib.io/lib.map/lib.task's function returns one, and by `tsexec check`
// when an expression statement's value is one.
import { describe, expect, it } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Runs `script` as s.ts; the marker file exists only if the command inside ever ran. */
async function runScript(script: string) {
  const dir = writeTree({ "s.ts": script });
  const r = await runTsexec(["s.ts"], { cwd: dir });
  return { ...r, ran: existsSync(join(dir, "ran")) };
}

describe("an IO returned where it is not run fails, naming the function and lib.bind / lib.defer", () => {
  it("lib.io(() => lib.$`…`)", async () => {
    const r = await runScript("export default ({ lib }: any) => lib.io(() => lib.$`touch ran`);\n");
    expect(r.stderr).toBe(
      "error: the function given to lib.io (() => lib.$`touch ran`) returned an IO value, which lib.io does not run: " +
        "to build an IO when the step runs, use lib.defer(() => io) instead of lib.io (or lib.bind to run it after another step)\n",
    );
    expect(r.code).toBe(1);
    expect(r.ran).toBe(false);
  });

  it("lib.map(() => lib.$`…`, io), also as io.map and inside a chain of maps", async () => {
    const message =
      "error: the function given to lib.map (() => lib.$`touch ran`) returned an IO value, which lib.map does not run: " +
      "to run it after the step, use lib.bind(io, (x) => nextIO) instead of lib.map\n";
    for (const body of [
      "lib.map(() => lib.$`touch ran`, lib.unit(1))",
      "lib.$`true`.map(() => lib.$`touch ran`)",
      "lib.map((n: number) => n, lib.map(() => lib.$`touch ran`, lib.unit(1)))",
    ]) {
      const r = await runScript(`export default ({ lib }: any) => ${body};\n`);
      expect(r.stderr, body).toBe(message);
      expect(r.code, body).toBe(1);
    }
  });

  it("lib.task(async () => lib.$`…`)", async () => {
    const r = await runScript("export default ({ lib }: any) => lib.task(async () => lib.$`touch ran`);\n");
    expect(r.stderr).toMatch(
      /^error: the function given to lib\.task \(async \(\) => lib\.\$`touch ran`\) returned an IO value, which lib\.task does not run: to run an IO after the task, use lib\.bind\(lib\.task\(\(\) => promise\), \(x\) => nextIO\)\n    in the lib\.task built at .*s\.ts:1:\d+\n$/,
    );
    expect(r.code).toBe(1);
    // lib.join is what runs the IO a map, an io or a task yields (nix-exec's join (map f io)).
    const joined = await runScript(
      [
        "export default ({ lib }: any) => lib.bind(lib.join(lib.map(() => lib.$`echo a`.text(), lib.unit(1))), (a: string) =>",
        "  lib.bind(lib.join(lib.io(() => lib.$`echo b`.text())), (b: string) =>",
        "    lib.map((c: string) => console.log(a, b, c), lib.join(lib.task(async () => lib.$`echo c`.text())))));",
      ].join("\n"),
    );
    expect(joined.stderr).toBe("");
    expect(joined.stdout).toBe("a b c\n");
    expect(joined.code).toBe(0);
  });

});

const dropping = [
  `import { defineScript } from "tsexec";`,
  ``,
  `export default defineScript(({ lib }) => {`,
  "  lib.$`touch ran`;",
  "  const kept = lib.$`echo kept`;",
  `  lib.unit(1).map((n) => n + 1);`,
  `  console.log("building");`,
  `  return lib.bind(kept, () => lib.io(() => {`,
  `    lib.exec("touch", ["ran"]);`,
  `  }));`,
  `});`,
  ``,
].join("\n");

const droppingOutput = [
  "s.ts:4:3: error dropped-io: this command is built and dropped, so it never runs: unlike zx's $, lib.$ and lib.exec run a command only as part of the IO the script returns; return it, or chain it: lib.bind(lib.$`…`, () => next)",
  "  4 |   lib.$`touch ran`;",
  "    |   ^",
  "s.ts:6:3: error dropped-io: this IO value is built and dropped, so it never runs: an IO runs only as part of the IO the script returns; return it, or chain it: lib.bind(io, () => next)",
  "  6 |   lib.unit(1).map((n) => n + 1);",
  "    |   ^",
  "s.ts:9:5: error dropped-io: this command is built and dropped, so it never runs: unlike zx's $, lib.$ and lib.exec run a command only as part of the IO the script returns; return it, or chain it: lib.bind(lib.$`…`, () => next)",
  `  9 |     lib.exec("touch", ["ran"]);`,
  "    |     ^",
  "",
].join("\n");

describe("tsexec check: an expression statement whose value is an IO is an error at its file:line", () => {
  for (const checker of ["tsgo", "tsc"]) {
    it(`each dropped IO, not the kept or returned ones (${checker === "tsgo" ? "tsgo, the default" : "TypeScript's API"})`, async () => {
      const dir = writeTree({ "s.ts": dropping });
      const r = await runTsexec(["check", "s.ts"], { cwd: dir, env: { TSEXEC_CHECKER: checker === "tsc" ? "tsc" : undefined } });
      expect(r.stderr).toBe(`${droppingOutput}error: 3 dropped IO values in 1 file (listed above)\n`);
      expect(r.stdout).toBe("");
      expect(r.code).toBe(1);
    });
  }

  it("in a module the script imports, beside a type error; --check refuses to run the script", async () => {
    const dir = writeTree({
      "s.ts": `import { defineScript } from "tsexec";\nimport { cleanup } from "./util.ts";\nexport default defineScript(({ lib }) => cleanup(lib));\n`,
      "util.ts": [
        `import type { Lib } from "tsexec";`,
        `export function cleanup(lib: Lib) {`,
        `  const n: number = "x";`,
        "  lib.$`touch ran`;",
        `  return lib.unit(n);`,
        `}`,
        ``,
      ].join("\n"),
    });
    const check = await runTsexec(["check", "s.ts"], { cwd: dir });
    expect(check.stderr).toMatch(/^util\.ts:3:9: error TS2322: [^]*\nutil\.ts:4:3: error dropped-io: this command is built and dropped[^]*\nerror: 1 type error and 1 dropped IO value in 1 file \(listed above\)\n$/);
    expect(check.code).toBe(1);
    const run = await runTsexec(["--check", "s.ts"], { cwd: dir, cacheDir: tempDir("cache-") });
    expect(run.stderr).toMatch(/\nerror: 1 type error and 1 dropped IO value \(listed above\): the script was not run\n$/);
    expect(run.code).toBe(1);
    expect(existsSync(join(dir, "ran"))).toBe(false);
  });
});
