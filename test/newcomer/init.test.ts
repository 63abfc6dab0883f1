/**
 * Issue 21, item 1: `tsexec init` makes a project whose printed steps work on
 * a machine where the registry has no tsexec of ours (here: a registry served
 * by the test, whose `tsexec` is an unrelated 0.0.2, as on npmjs.org). The
 * real tsexec binary; the editor's view is TypeScript's own tsc on the
 * project's tsconfig.json.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { launcher, root, runCommand, runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, startRegistry, type Registry } from "../npm/registry.js";

let registry: Registry;
let env: Record<string, string>;
beforeAll(async () => {
  registry = await startRegistry([
    { name: "tsexec", version: "0.0.2", files: { "index.js": "module.exports = 'the other tsexec';\n" } },
    { name: "picocolors", version: "1.1.1" },
  ]);
  env = { ...npmEnv(registry.url), PATH: `${join(root, "shebang")}${delimiter}${process.env.PATH}` };
});
afterAll(() => registry.close());

const asksForTsexec = () => registry.requests.filter((r) => /tsexec/.test(r));

describe("tsexec init on a fresh machine", () => {
  it("prints steps that work without the registry: ./main.ts runs, editor types for tsexec and fp-ts resolve, tsexec check re-links after a clone", async () => {
    const parent = tempDir();
    const init = await runTsexec(["init", "tools"], { cwd: parent, env });
    expect(init.stderr).toBe("");
    expect(init.stdout).toBe(
      "Created tools/package.json, tools/tsconfig.json, tools/main.ts, tools/.gitignore.\n" +
        `node_modules links tsexec, fp-ts and @types/node to this tsexec (${root.replace(/\/$/, "")}) for your editor; nothing to install.\n` +
        "Next: cd tools && ./main.ts (or tsexec main.ts); tsexec check type-checks (and re-links node_modules after a clone).\n",
    );
    const dir = join(parent, "tools");
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).toEqual({ name: "tools", private: true, type: "module" });
    expect(realpathSync(join(dir, "node_modules", "tsexec"))).toBe(realpathSync(root));

    const run = await runCommand(join(dir, "main.ts"), ["Ada"], { cwd: dir, env });
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("Hello, Ada!\n");

    // What an editor sees: TypeScript itself on the project's tsconfig, tsexec's and fp-ts's types included.
    writeFileSync(
      join(dir, "fp.ts"),
      `import { pipe } from "fp-ts/function";\nimport * as O from "fp-ts/Option";\nimport { defineScript } from "tsexec";\n` +
        `export default defineScript(({ lib }) => lib.io(() => console.log(pipe(O.some(2), O.map((n) => n * 2)))));\n`,
    );
    const tsc = () => runCommand(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", dir], { cwd: dir });
    expect((await tsc()).stdout).toBe("");
    expect((await runTsexec([join(dir, "fp.ts")], { cwd: dir, env })).stdout).toBe("{ _tag: 'Some', value: 4 }\n");

    // A clone has no node_modules: tsexec check makes the links again, and says so.
    rmSync(join(dir, "node_modules"), { recursive: true });
    const check = await runTsexec(["check"], { cwd: dir, env });
    expect(check.stderr).toBe(
      `tsexec: linked ${["tsexec", "fp-ts", "@types/node"].map((n) => join(dir, "node_modules", n)).join(", ")} to this tsexec's copies (${root.replace(/\/$/, "")}), for editors\n`,
    );
    expect(check.code).toBe(0);
    expect((await tsc()).code).toBe(0);
    expect((await runTsexec(["check"], { cwd: dir, env })).stderr).toBe("");
    expect(asksForTsexec()).toEqual([]);
  });

  it("a project depending on tsexec and fp-ts (what init made before) never installs them: a typo is reported as itself", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", type: "module", dependencies: { tsexec: "^0.1.0", "fp-ts": "^2.16.0" } }),
      "fp.ts": `import { pipe } from "fp-ts/function";\nexport default ({ lib }: any) => lib.io(() => console.log(pipe(1, (n: number) => n + 1)));\n`,
      "typo.ts": `import pc from "picocolor";\nexport default ({ lib }: any) => lib.io(() => console.log(pc));\n`,
    });
    const fp = await runTsexec([join(dir, "fp.ts")], { env });
    expect(fp.stderr).toBe("");
    expect(fp.stdout).toBe("2\n");
    const typo = await runTsexec([join(dir, "typo.ts")], { env });
    expect(typo.stderr).toMatch(/^error: cannot find package 'picocolor' imported from .*typo\.ts/);
    expect(typo.stderr).not.toMatch(/dependency tsexec/);
    expect(asksForTsexec()).toEqual([]);
    expect(registry.requests.filter((r) => /fp-ts/.test(r))).toEqual([]);
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
  });
});
