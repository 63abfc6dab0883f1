// `tsexec init`: a project that type-checks and runs as generated, and never overwrites a file.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runTsexec, tempDir, writeTree } from "../helpers.js";

describe("tsexec init", () => {
  it("makes package.json, tsconfig.json, an executable main.ts and .gitignore that pass tsexec check and run", async () => {
    const parent = tempDir();
    const r = await runTsexec(["init", "my-tools"], { cwd: parent });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const dir = join(parent, "my-tools");
    expect(readdirSync(dir).sort()).toEqual([".gitignore", "main.ts", "node_modules", "package.json", "tsconfig.json"]);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg).toEqual({ name: "my-tools", private: true, type: "module" });
    expect(JSON.parse(readFileSync(join(dir, "tsconfig.json"), "utf8")).compilerOptions).toMatchObject({ strict: true, allowImportingTsExtensions: true, moduleResolution: "Bundler" });
    expect(readFileSync(join(dir, "main.ts"), "utf8")).toMatch(/^#!\/usr\/bin\/env tsexec\n/);
    expect(statSync(join(dir, "main.ts")).mode & 0o111).toBe(0o111);
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe("node_modules/\n");

    const check = await runTsexec(["check"], { cwd: dir });
    expect(check.stdout + check.stderr).toBe("");
    expect(check.code).toBe(0);
    const run = await runTsexec(["main.ts", "Ada", "Grace"], { cwd: dir });
    expect(run.stdout).toBe("Hello, Ada!\nHello, Grace!\n");
    expect(run.code).toBe(0);

    // ./x.ts imports type-check under the generated tsconfig (no TS5097).
    writeFileSync(join(dir, "greet.ts"), `export const greet = (name: string): string => \`Hi, \${name}\`;\n`);
    writeFileSync(join(dir, "other.ts"), `import { defineScript } from "tsexec";\nimport { greet } from "./greet.ts";\nexport default defineScript(({ lib }) => lib.io(() => console.log(greet("you"))));\n`);
    const again = await runTsexec(["check"], { cwd: dir });
    expect(again.stdout + again.stderr).toBe("");
    expect((await runTsexec(["other.ts"], { cwd: dir })).stdout).toBe("Hi, you\n");
  });

  it("refuses to overwrite: one error naming the file, nothing written", async () => {
    const dir = writeTree({ "tsconfig.json": "{}\n" });
    const r = await runTsexec(["init"], { cwd: dir });
    expect(r.stderr).toBe("error: init would overwrite tsconfig.json: remove it, or run tsexec init in another directory\n");
    expect(r.code).toBe(1);
    expect(readdirSync(dir)).toEqual(["tsconfig.json"]);
    expect(readFileSync(join(dir, "tsconfig.json"), "utf8")).toBe("{}\n");
    expect(existsSync(join(dir, "package.json"))).toBe(false);
  });
});
