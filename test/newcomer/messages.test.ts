/**
 * Issue 21, item 6: the messages a newcomer met, each asserted as text. The
 * real tsexec binary; npm packages from a registry the test serves on 127.0.0.1.
 */
import { chmodSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTsexec, writeTree } from "../helpers.js";
import { npmEnv, startRegistry, type Registry } from "../npm/registry.js";

let registry: Registry;
beforeAll(async () => {
  registry = await startRegistry([
    { name: "alpha", version: "1.0.0" },
    { name: "beta", version: "2.0.0" },
    { name: "gamma", version: "3.0.0" },
  ]);
});
afterAll(() => registry.close());

const threeImports = `import a from "npm:alpha@1";\nimport b from "npm:beta@2";\nimport c from "npm:gamma@3";\nexport default ({ lib }: any) => lib.io(() => console.log(a, b, c));\n`;

describe("messages", () => {
  it("a named-import typo names the script's line and the specifier as written, and the export meant", async () => {
    const dir = writeTree({
      "util.ts": `export const shout = (s: string) => s.toUpperCase();\nexport const whisper = (s: string) => s.toLowerCase();\n`,
      "main.ts": `// greets\nimport { whisper, shuot } from "./util.ts";\nexport default ({ lib }: any) => lib.io(() => console.log(shuot(whisper("x"))));\n`,
    });
    const cold = await runTsexec([join(dir, "main.ts")]);
    expect(cold.stderr).toBe(`error: ${join(dir, "main.ts")}:2:19: './util.ts' has no export named 'shuot': did you mean 'shout'?\n`);
    expect(cold.code).toBe(1);
  });

  it("show .#APP lists the app tsexec .#APP runs (a bin that is a shebang script without an extension)", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "x", bin: { hi: "bin/hi" } }),
      "bin/hi": `#!/usr/bin/env tsexec\n/** Says hi. */\nexport default ({ lib }: { lib: any }) => lib.io(() => console.log("hi"));\n`,
    });
    chmodSync(join(dir, "bin/hi"), 0o755);
    const run = await runTsexec([".#hi"], { cwd: dir });
    expect(run.stdout).toBe("hi\n");
    const show = await runTsexec(["show", ".#hi"], { cwd: dir });
    expect(show.stderr).toBe("");
    expect(show.stdout).toBe(`.#hi (local directory ${dir}):\n  bin/hi  Says hi.\n`);
  });

  it("tsexec check --help shows check's help; tsexec --help has the REF#APP | NAME usage line", async () => {
    const check = await runTsexec(["check", "--help"]);
    expect(check.stderr).toBe("");
    expect(check.stdout).toMatch(/^Usage: tsexec \[OPTIONS\] check \[SCRIPT\.\.\.\]\n\nType-checks scripts /);
    expect(check.code).toBe(0);
    expect((await runTsexec(["init", "--help"])).stdout).toMatch(/^Usage: tsexec \[OPTIONS\] init \[DIR\] \[--template REF\[#NAME\]\]\n\nCreates a script project/);
    const help = await runTsexec(["--help"]);
    expect(help.stdout).toContain("\n       tsexec [OPTIONS] REF#APP | NAME[#APP] [ARGS...]\n");
  });

  it("--show-trace names a mapPar as lib.mapPar and shows none of tsexec's own closures", async () => {
    const dir = writeTree({
      "par.ts": `export default ({ lib }: any) =>\n  lib.bind(lib.unit(1), () =>\n    lib.mapPar((n: number) => lib.task(async () => { if (n === 3) throw new Error("boom"); return n; }), [1, 2, 3, 4]));\n`,
    });
    const r = await runTsexec(["--show-trace", join(dir, "par.ts")]);
    expect(r.stderr).toBe(
      `error: boom\n    at ${join(dir, "par.ts")}:3:73\n` +
        `  while awaiting async () => { if (n === 3) throw new Error("boom"); retur... at ${join(dir, "par.ts")}:3:35\n` +
        `  while running lib.mapPar of 4 steps\n`,
    );
  });

  it("in a read-only directory, N unpinned npm: specifiers warn once each (not N times each)", async () => {
    const dir = writeTree({ "t.ts": threeImports });
    chmodSync(dir, 0o555);
    expect(statSync(dir).mode & 0o222).toBe(0);
    const r = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(r.stdout).toBe("alpha@1.0.0 beta@2.0.0 gamma@3.0.0\n");
    const warning = (spec: string, version: string) =>
      `tsexec: warning: npm:${spec} is not pinned (${dir} is read-only, so no tsexec.lock records it): it resolved to ${version}; to run exactly this, import npm:${version}\n`;
    expect(r.stderr).toBe(warning("alpha@1", "alpha@1.0.0") + warning("beta@2", "beta@2.0.0") + warning("gamma@3", "gamma@3.0.0"));
    expect(existsSync(join(dir, "tsexec.lock"))).toBe(false);
  });

  it("--frozen names every specifier the lock lacks in one error; writing pins says what it pinned", async () => {
    const dir = writeTree({ "t.ts": threeImports });
    const lock = join(dir, "tsexec.lock");
    const frozen = await runTsexec(["--frozen", join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(frozen.stderr).toBe(
      `error: ${join(dir, "t.ts")}: ${lock} does not pin npm:alpha@1, npm:beta@2, npm:gamma@3, and --frozen (TSEXEC_FROZEN) forbids changing it: run without --frozen to lock them, and commit the lock\n`,
    );
    expect(frozen.code).toBe(1);
    const run = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(run.stderr).toBe(`tsexec: locked npm:alpha@1 at alpha@1.0.0, npm:beta@2 at beta@2.0.0, npm:gamma@3 at gamma@3.0.0: wrote ${lock}\n`);
    expect((await runTsexec(["--frozen", join(dir, "t.ts")], { env: npmEnv(registry.url) })).stderr).toBe("");
  });
});
