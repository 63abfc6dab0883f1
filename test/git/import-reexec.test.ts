import { chmodSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { launcher, runTsexec, tempDir, writeTree } from "../helpers.js";
import { run } from "../../src/runtime/interpreter.js";
import { makeLib } from "../../src/cli/lib.js";
import { makeContext } from "../../src/base/context.js";

describe("lib.import", () => {
  const dir = writeTree({
    "tool/default.ts": `export default (lib: any) => lib.unit("tool default " + typeof lib.bind);\n`,
    "plain.ts": `export const a = 1;\nexport const b = "two";\n`,
    "helper.mjs": `export default function helper() { return "js helper"; }\n`,
    "nested/uses-relative.ts": `import { value } from "./value.ts";\nexport default value;\n`,
    "nested/value.ts": `export const value = "relative import works";\n`,
  });
  const lib = makeLib({ dir });
  const ctx = makeContext({ cacheDir: tempDir("cache-") });

  test("a directory's default.ts: its default export (a function of lib)", async () => {
    const tool = (await run(lib.import("./tool"), ctx)) as (l: typeof lib) => unknown;
    expect(await run(tool(lib) as any, ctx)).toBe("tool default function");
  });
  test("a module without a default export: its namespace", async () => {
    expect({ ...((await run(lib.import("plain.ts"), ctx)) as object) }).toEqual({ a: 1, b: "two" });
  });
  test("JavaScript, an absolute path, relative imports inside the module", async () => {
    expect(((await run(lib.import("helper.mjs"), ctx)) as () => string)()).toBe("js helper");
    expect(await run(lib.import(join(dir, "nested/uses-relative.ts")), ctx)).toBe("relative import works");
  });
  test("a missing path names it and the directory it was resolved against", async () => {
    await expect(run(lib.import("./nope.ts"), ctx)).rejects.toThrow(`lib.import: cannot find script './nope.ts': no such file or directory (relative paths resolve against ${dir})`);
    await expect(run(lib.import(42 as any), ctx)).rejects.toThrow(/lib.import expects a path/);
  });
});

describe("lib.builtins.reexec", () => {
  /** reexec.ts TARGET: prints its PID, re-executes into TARGET, prints what reexec yielded. */
  const scripts = writeTree({
    "reexec.ts": `export default ({ args, lib }: any) =>
  lib.bind(lib.io(() => console.log("before pid=" + process.pid)), () =>
    lib.map((r: unknown) => console.log("reexec yielded " + r), lib.builtins.reexec(args[1])));\n`,
  });
  const script = join(scripts, "reexec.ts");

  function executable(name: string, text: string): string {
    const path = join(tempDir("reexec-"), name);
    writeFileSync(path, text);
    chmodSync(path, 0o755);
    return path;
  }

  test("the launcher this process runs from (also through a symlink): yields null", async () => {
    const out = await runTsexec([script, launcher]);
    expect(out.stdout).toMatch(/^before pid=\d+\nreexec yielded null\n$/);
    const link = join(tempDir("reexec-"), "tsexec-link");
    symlinkSync(launcher, link);
    expect((await runTsexec([script, link])).stdout).toContain("reexec yielded null");
  });

  test("another path: the same process runs it with the original arguments; its output and exit code are the result", async () => {
    const other = executable("other", `#!/bin/sh\necho "other pid=$$ argv0=$0 args=$*"\nexit 7\n`);
    const out = await runTsexec([script, other]);
    const pid = /before pid=(\d+)/.exec(out.stdout)?.[1];
    expect(out.stdout).toBe(`before pid=${pid}\nother pid=${pid} argv0=${other} args=${script} ${other}\n`);
    expect(out.code).toBe(7);
  });

  test("an exec loop is stopped with a clear error", async () => {
    // A launcher that is not the file the re-executed tsexec reports as its own: it would reexec forever.
    const wrapper = executable("wrapper", `#!/bin/sh\nexec "${process.execPath}" "${launcher}" "$@"\n`);
    const out = await runTsexec([script, wrapper]);
    expect(out.code).toBe(1);
    expect(out.stdout.match(/before pid=/g)).toHaveLength(2);
    expect(out.stderr).toMatch(/^error: reexec loop: this tsexec was re-executed from .*shebang\/tsexec into .*wrapper, .*would now re-execute into .*wrapper/);
  });

  test("a missing or non-executable path is refused", async () => {
    const missing = await runTsexec([script, "/nonexistent/tsexec"]);
    expect(missing.stderr).toBe("error: lib.builtins.reexec: '/nonexistent/tsexec' does not exist\n");
    const plain = join(tempDir("reexec-"), "plain");
    writeFileSync(plain, "x");
    const notExecutable = await runTsexec([script, plain]);
    expect(notExecutable.stderr).toBe(`error: lib.builtins.reexec: '${plain}' is not executable (chmod +x it)\n`);
    expect(notExecutable.code).toBe(1);
  });

  test("execve's own failure is reported with the path and the system's reason", async () => {
    const broken = executable("broken", "#!/nonexistent/interpreter\n");
    const out = await runTsexec([script, broken]);
    expect(out.stderr).toBe(`error: executing '${broken}': No such file or directory\n`);
    expect(out.code).toBe(1);
  });

  test("a derivation is built first, then its output is re-executed into", async () => {
    const drvScript = writeTree({
      "s.ts": `export default ({ lib }: any) =>
  lib.builtins.reexec(lib.runCommand("other-launcher", {}, 'printf "#!/bin/sh\\necho built launcher ran\\n" > "$out"; chmod +x "$out"'));\n`,
    });
    const out = await runTsexec([join(drvScript, "s.ts")]);
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("built launcher ran\n");
  });

  test("a derivation-like value (outPath) is accepted", async () => {
    const other = executable("drv-out", `#!/bin/sh\necho "from drv"\n`);
    const drvScript = writeTree({
      "s.ts": `export default ({ lib }: any) => lib.builtins.reexec({ outPath: ${JSON.stringify(other)} });\n`,
    });
    const out = await runTsexec([join(drvScript, "s.ts")]);
    expect(out.stdout).toBe("from drv\n");
  });

  test("refused inside unsafePerformIO", () => {
    const lib = makeLib({ dir: "/" });
    expect(() => lib.builtins.unsafePerformIO(lib.builtins.reexec("/bin/sh"))).toThrow("cannot reexec within unsafePerformIO");
  });
});
