/** The build store in-process: hashing, builds, inputs, read-only outputs, failures, no rebuilds. */
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers.js";

const cacheDir = tempDir("tsexec-store-cache-");
process.env.TSEXEC_CACHE_DIR = cacheDir;

const { run, unsafePerformIO, makeLib, TsexecError } = await import("../../src/index.js");
const { storeStats, tryLock } = await import("../../src/builtins/derivation/store.js");

const lib = makeLib({ dir: process.cwd() });
const store = join(cacheDir, "store");

/** A file outside the store each build appends to: counts how often a builder really ran. */
function counter(): { file: string; runs(): number } {
  const file = join(tempDir(), "runs");
  return { file, runs: () => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0) };
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe("derivations", () => {
  it("hash everything that defines the build, and nothing else", () => {
    const a = lib.runCommand("thing", { greeting: "hi" }, 'echo "$greeting" > "$out"');
    expect(lib.runCommand("thing", { greeting: "hi" }, 'echo "$greeting" > "$out"')).toBe(a);
    expect(lib.runCommand("thing", { greeting: "hello" }, 'echo "$greeting" > "$out"').hash).not.toBe(a.hash);
    expect(lib.runCommand("thing", { greeting: "hi" }, 'echo "$greeting"  > "$out"').hash).not.toBe(a.hash);
    expect(lib.runCommand("other", { greeting: "hi" }, 'echo "$greeting" > "$out"').hash).not.toBe(a.hash);
    expect(lib.toFile("thing", "hi").hash).not.toBe(lib.toFile("thing", "ho").hash);
    expect(a.storeName).toMatch(/^[0-9a-f]{32}-thing$/);
    expect(`${a}`).toBe(join(store, a.storeName));
  });

  it("make a derivation used in a string or an env value an input", () => {
    const input = lib.toFile("input.txt", "x");
    const viaString = lib.runCommand("uses-string", {}, `cat ${input} > "$out"`);
    const viaEnv = lib.runCommand("uses-env", { input }, 'cat "$input" > "$out"');
    const viaEnvString = lib.runCommand("uses-env-string", { dir: `${input}/..` }, 'ls "$dir" > "$out"');
    for (const drv of [viaString, viaEnv, viaEnvString]) expect(drv.inputs).toEqual([input]);
    // The input's hash is part of the dependent's.
    const other = lib.runCommand("uses-env", { input: lib.toFile("input.txt", "y") }, 'cat "$input" > "$out"');
    expect(other.hash).not.toBe(viaEnv.hash);
  });

  it("refuse bad names and values", () => {
    expect(() => lib.toFile(".hidden", "x")).toThrow(/name must be/);
    expect(() => lib.toFile("a/b", "x")).toThrow(/name must be/);
    expect(() => lib.runCommand("x", { out: "/tmp" }, "true")).toThrow(/cannot set 'out'/);
    expect(() => lib.runCommand("x", { n: 3 as never }, "true")).toThrow(/env.n must be a string or a derivation, got a number/);
    expect(() => lib.derivation({ name: "x", builder: "" })).toThrow(/builder must not be empty/);
    expect(() => lib.build("x" as never)).toThrow(/expects a derivation/);
  });
});

describe("building", () => {
  it("writes toFile outputs read-only", async () => {
    const out = await run(lib.build(lib.toFile("hello.txt", "hello\n")));
    expect(out).toBe(join(store, lib.toFile("hello.txt", "hello\n").storeName));
    expect(readFileSync(out, "utf8")).toBe("hello\n");
    expect(mode(out)).toBe(0o444);
  });

  it("runs runCommand in an empty directory with $out and $NODE_API_INCLUDE, and makes the output read-only", async () => {
    const drv = lib.runCommand(
      "tree",
      {},
      'mkdir -p "$out/bin"; ls -A > "$out/listing"; echo "$NODE_API_INCLUDE" > "$out/include"; ' +
        'printf "#!/bin/sh\\necho hi\\n" > "$out/bin/hi"; chmod +x "$out/bin/hi"',
    );
    const out = await run(lib.build(drv));
    expect(readFileSync(join(out, "listing"), "utf8")).toBe("");
    expect(readFileSync(join(out, "include"), "utf8").trim()).toBe(lib.configuration.nodeApiInclude);
    expect(existsSync(join(lib.configuration.nodeApiInclude, "node_api.h"))).toBe(true);
    expect(mode(out)).toBe(0o555);
    expect(mode(join(out, "bin"))).toBe(0o555);
    expect(mode(join(out, "listing"))).toBe(0o444);
    expect(mode(join(out, "bin", "hi"))).toBe(0o555);
  });

  it("does not rebuild what is built, and finds it synchronously", async () => {
    const runs = counter();
    const drv = lib.runCommand("counted", { runs: runs.file }, 'echo run >> "$runs"; echo done > "$out"');
    const first = await run(lib.build(drv));
    const buildsAfterFirst = storeStats.builds;
    for (let i = 0; i < 5; i++) expect(await run(lib.build(drv))).toBe(first);
    expect(unsafePerformIO(lib.build(drv))).toBe(first);
    expect(runs.runs()).toBe(1);
    expect(storeStats.builds).toBe(buildsAfterFirst);
  });

  it("builds inputs first, and independent inputs in parallel", async () => {
    // Each input waits for the other to start: built one after the other, the first would time out.
    const meeting = tempDir();
    const waitFor = (mine: string, theirs: string) =>
      `touch "${meeting}/${mine}"; i=0; while [ ! -e "${meeting}/${theirs}" ]; do i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done; echo ${mine} > "$out"`;
    const left = lib.runCommand("left", {}, waitFor("left", "right"));
    const right = lib.runCommand("right", {}, waitFor("right", "left"));
    const both = lib.runCommand("both", { left, right }, 'cat "$left" "$right" > "$out"');
    const out = await run(lib.build(both));
    expect(readFileSync(out, "utf8")).toBe("left\nright\n");
  });

  it("joins a build already in progress in the same process", async () => {
    const runs = counter();
    const drv = lib.runCommand("joined", { runs: runs.file }, 'echo run >> "$runs"; sleep 0.2; echo ok > "$out"');
    const [a, b] = await Promise.all([run(lib.build(drv)), run(lib.build(drv))]);
    expect(a).toBe(b);
    expect(runs.runs()).toBe(1);
  });

  it("fails with exit code 100, the builder's output tail, and nothing in the store", async () => {
    const drv = lib.runCommand("broken", {}, 'for i in $(seq 1 40); do echo "line $i"; done; echo "cc: error: oops" >&2; exit 3');
    const outcome = await run(lib.attempt(lib.build(drv)));
    if (outcome._tag === "Right") throw new Error(`the broken build succeeded: ${outcome.right}`);
    const error = outcome.left;
    expect(error).toBeInstanceOf(TsexecError);
    expect((error as InstanceType<typeof TsexecError>).exitCode).toBe(100);
    expect(error.message).toContain(`building 'broken' (${drv.storeName}) failed: its builder 'sh' exited with code 3`);
    expect(error.message).toContain("  | cc: error: oops");
    expect(error.message).toContain("  | line 40");
    expect(error.message).not.toContain("  | line 1\n");
    expect(existsSync(join(store, drv.storeName))).toBe(false);
    expect(readdirSync(join(cacheDir, "builds")).filter((entry) => entry.startsWith(drv.storeName))).toEqual([]);
  });

  it("fails when the builder writes nothing at $out, or cannot be found", async () => {
    const silent = await run(lib.attempt(lib.build(lib.runCommand("silent", {}, "true"))));
    expect(silent._tag === "Left" && silent.left.message).toMatch(/succeeded but wrote nothing at \$out/);
    const missing = await run(lib.attempt(lib.build(lib.derivation({ name: "missing", builder: "tsexec-no-such-builder" }))));
    expect(missing._tag === "Left" && missing.left.message).toMatch(/builder 'tsexec-no-such-builder' was not found/);
  });
});

describe("build locks", () => {
  it("are taken once, and broken only when their owner is dead or its pid was reused", () => {
    const lock = join(tempDir(), "x.lock");
    expect(tryLock(lock)).toBe(true);
    expect(readFileSync(lock, "utf8")).toMatch(new RegExp(`^${process.pid}( \\d+)?\n$`));
    expect(tryLock(lock)).toBe(false);
    // A live owner (this process, identified by pid alone) keeps the lock.
    writeFileSync(lock, `${process.pid}\n`);
    expect(tryLock(lock)).toBe(false);
    // A dead owner's lock is stale.
    writeFileSync(lock, "2147483646 12345\n");
    expect(tryLock(lock)).toBe(true);
    // A live pid that started at another time is a reused pid: stale too (where /proc tells start times).
    if (existsSync("/proc/self/stat")) {
      writeFileSync(lock, `${process.pid} 1\n`);
      expect(tryLock(lock)).toBe(true);
    }
    expect(readdirSync(join(lock, "..")).sort()).toEqual(["x.lock"]);
  });
});
