// The interpreter through the real binary: stack safety with Node's default stack, --verbose, async steps.
import { describe, expect, it } from "vitest";
import { runTsexec, writeTree } from "../helpers.js";

describe("the interpreter under tsexec", () => {
  it("runs 10,000,000 right-nested binds and a 10,000,000-deep left-nested map chain with the default stack", async () => {
    const dir = writeTree({
      "deep.ts": [
        `import type { IO, Script } from "tsexec";`,
        `const script: Script = ({ lib }) => {`,
        `  const loop = (n: number): IO<number> => (n === 0 ? lib.unit(0) : lib.bind(lib.unit(n), () => loop(n - 1)));`,
        `  let chain: IO<number> = lib.unit(0);`,
        `  for (let i = 0; i < 10_000_000; i++) chain = lib.map((n: number) => n + 1, chain);`,
        `  return lib.bind(loop(10_000_000), (z) => lib.map((n: number) => console.log(z, n), chain));`,
        `};`,
        `export default script;`,
      ].join("\n"),
    });
    const r = await runTsexec(["deep.ts"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("0 10000000\n");
  });

  it("--verbose logs each primitive as it runs, to stderr", async () => {
    const dir = writeTree({
      "p.ts": [
        `import { primitive, defineScript } from "tsexec";`,
        `export default defineScript(({ lib }) => {`,
        `  const step = (name: string) => primitive(name, () => lib.io(() => console.log("ran " + name)));`,
        `  return lib.bind(step("first"), () => step("second"));`,
        `});`,
      ].join("\n"),
    });
    const quiet = await runTsexec(["p.ts"], { cwd: dir });
    expect(quiet).toMatchObject({ code: 0, stdout: "ran first\nran second\n", stderr: "" });
    const verbose = await runTsexec(["-v", "p.ts"], { cwd: dir });
    expect(verbose.stdout).toBe("ran first\nran second\n");
    expect(verbose.stderr).toBe("tsexec: first\ntsexec: second\n");
  });

  it("awaits asynchronous steps, and lib.attempt recovers from a rejected task", async () => {
    const dir = writeTree({
      "a.ts": [
        `import { defineScript } from "tsexec";`,
        `import { setTimeout as sleep } from "node:timers/promises";`,
        `export default defineScript(({ lib }) =>`,
        `  lib.bind(lib.task(() => sleep(20, "slept")), (s) =>`,
        `    lib.bind(lib.attempt(lib.task(() => Promise.reject(new Error("nope")))), (e) =>`,
        `      lib.io(() => console.log(s, e._tag, e._tag === "Left" ? e.left.message : ""))),`,
        `  ),`,
        `);`,
      ].join("\n"),
    });
    const r = await runTsexec(["a.ts"], { cwd: dir });
    expect(r).toMatchObject({ code: 0, stdout: "slept Left nope\n", stderr: "" });
  });

  it("a rejected task that nothing recovers is an error with the script's stack", async () => {
    const dir = writeTree({
      "r.ts": `export default ({ lib }: any) =>\n  lib.task(async () => {\n    throw new Error("remote said no");\n  });\n`,
    });
    const r = await runTsexec(["r.ts"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: remote said no\n {4}at .*r\.ts:3:11/);
  });

  it("a step whose promise nothing can settle is an error naming it, not Node's silent exit 13", async () => {
    const dir = writeTree({
      "never.ts": `export default ({ lib }: any) =>\n  lib.bind(lib.task(function handshake() { return new Promise(() => {}); }), () => lib.io(() => console.log("unreachable")));\n`,
      "later.ts": `export default ({ lib }: any) => lib.bind(lib.task(() => new Promise((r) => setTimeout(r, 50, "late"))), (v: string) => lib.io(() => console.log(v)));\n`,
    });
    const never = await runTsexec(["never.ts"], { cwd: dir });
    expect(never.code).toBe(1);
    expect(never.stdout).toBe("");
    expect(never.stderr).toBe(
      "error: the program can never finish: it waits on lib.task(handshake), whose promise nothing is left to settle (no timer, socket or child process is pending)\n",
    );
    const traced = await runTsexec(["--show-trace", "never.ts"], { cwd: dir });
    expect(traced.stderr).toMatch(/it waits on lib\.task\(handshake\) \(built at \/\S+\/never\.ts:2:16\)/);
    // A pending timer keeps the program alive: that is waiting, not stuck.
    expect(await runTsexec(["later.ts"], { cwd: dir })).toMatchObject({ code: 0, stdout: "late\n", stderr: "" });
  });
});
