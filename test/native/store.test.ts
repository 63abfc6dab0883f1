/** The build store in-process: hashing, builds, inputs, read-only outputs, failures, no rebuilds. */
import { describe, expect, it } from "vitest";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers.js";

const cacheDir = tempDir("tsexec-store-cache-");
process.env.TSEXEC_CACHE_DIR = cacheDir;

const { run, unsafePerformIO, makeLib, TsexecError } = await import("../../src/index.js");
const { storeStats, validMarker, isBuilt } = await import("../../src/builtins/derivation/store.js");
const { ownOwner } = await import("../../src/base/file-lock.js");

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

  it("have known hashes (the recipe format and hash are part of every store path)", () => {
    const input = lib.toFile("input.txt", "ünï\n");
    const drv = lib.runCommand("thing", { greeting: "hi", input }, 'echo "$greeting" > "$out"');
    expect(input.storeName).toBe("1d545fefb3bf1a6a4d4640de5593f4ef-input.txt");
    expect(drv.storeName).toBe("133c2474e9b28e87d8373b354fe3ab0a-thing");
  });

  it("take time limits as part of the recipe, only when set", () => {
    const plain = lib.runCommand("limited", {}, "true");
    const limited = lib.runCommand("limited", { timeout: 5, maxSilentTime: 2 }, "true");
    expect(limited.hash).not.toBe(plain.hash);
    expect(limited.recipe).toMatchObject({ timeout: 5, maxSilentTime: 2, env: [] });
    expect(lib.derivation({ name: "limited", builder: "sh", args: ["-e", "-c", "true"], timeout: 5, maxSilentTime: 2 })).toBe(limited);
    expect(lib.runCommand("limited", { timeout: undefined }, "true")).toBe(plain);
    expect(() => lib.runCommand("x", { timeout: "5" as never }, "true")).toThrow("lib.runCommand (x): timeout must be a number of seconds greater than 0, got a string (\"5\")");
    expect(() => lib.derivation({ name: "x", builder: "sh", maxSilentTime: 0 })).toThrow(/maxSilentTime must be a number of seconds greater than 0/);
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

describe("builds at the final store path", () => {
  it("give $out as the store path, so outputs that record their prefix stay right", async () => {
    const drv = lib.runCommand("self-aware", {}, 'mkdir -p "$out/bin"; printf "#!/bin/sh\\necho %s\\n" "$out" > "$out/bin/where"; chmod +x "$out/bin/where"; echo "$out" > "$out/prefix"');
    const out = await run(lib.build(drv));
    expect(out).toBe(join(store, drv.storeName));
    expect(readFileSync(join(out, "prefix"), "utf8")).toBe(`${out}\n`);
    expect(readFileSync(join(out, "bin", "where"), "utf8")).toContain(`echo ${out}`);
    expect(existsSync(validMarker(out))).toBe(true);
    expect(validMarker(out)).toBe(join(store, ".valid", drv.storeName));
  });

  it("make everything the build wrote read-only and keep symlinks as written, never following them", async () => {
    const outside = join(tempDir(), "outside.txt");
    writeFileSync(outside, "not the build's\n");
    chmodSync(outside, 0o644);
    const drv = lib.runCommand(
      "links",
      { outside },
      'mkdir -p "$out/lib"; echo x > "$out/lib/libx.so.1"; ln -s libx.so.1 "$out/lib/libx.so"; ln -s "$outside" "$out/escape"; ln -s "$out/lib" "$out/abs"',
    );
    const out = await run(lib.build(drv));
    expect(readlinkSync(join(out, "lib", "libx.so"))).toBe("libx.so.1");
    expect(readlinkSync(join(out, "escape"))).toBe(outside);
    expect(readlinkSync(join(out, "abs"))).toBe(join(out, "lib"));
    expect(lstatSync(join(out, "escape")).isSymbolicLink()).toBe(true);
    expect(mode(outside)).toBe(0o644);
    expect(mode(join(out, "lib", "libx.so.1"))).toBe(0o444);
    expect(mode(join(out, "lib"))).toBe(0o555);
    expect(mode(out)).toBe(0o555);
  });

  it("count as built only with their marker: a leftover at the store path is removed before the next build", async () => {
    const runs = counter();
    const drv = lib.runCommand("leftover", { runs: runs.file }, 'echo run >> "$runs"; mkdir "$out"; echo fresh > "$out/file"');
    const out = join(store, drv.storeName);
    // What a killed build leaves: a partial, read-only output and no marker.
    mkdirSync(join(out, "half"), { recursive: true });
    writeFileSync(join(out, "half", "junk"), "partial");
    chmodSync(join(out, "half"), 0o555);
    expect(isBuilt(out)).toBe(false);
    expect(unsafePerformIO(lib.attempt(lib.build(drv)))._tag).toBe("Left"); // not built: asynchronous
    expect(await run(lib.build(drv))).toBe(out);
    expect(readdirSync(out)).toEqual(["file"]);
    expect(runs.runs()).toBe(1);
    // Without its marker, an output is built again.
    unlinkSync(validMarker(out));
    expect(await run(lib.build(drv))).toBe(out);
    expect(runs.runs()).toBe(2);
  });

  it("count as built only with their output too: a deleted output whose marker remains is built again (issue 19)", async () => {
    const runs = counter();
    const drv = lib.runCommand("deleted", { runs: runs.file }, 'echo run >> "$runs"; mkdir "$out"; echo fresh > "$out/file"');
    const out = await run(lib.build(drv));
    expect(runs.runs()).toBe(1);
    // Someone removes the output (a cleaner, by hand); the marker stays.
    chmodSync(out, 0o755);
    rmSync(out, { recursive: true, force: true });
    expect(existsSync(validMarker(out))).toBe(true);
    expect(isBuilt(out)).toBe(false);
    expect(await run(lib.build(drv))).toBe(out);
    expect(readFileSync(join(out, "file"), "utf8")).toBe("fresh\n");
    expect(runs.runs()).toBe(2);
    expect(isBuilt(out)).toBe(true);
  });

  it("leave neither output nor marker when the build fails after writing", async () => {
    const drv = lib.runCommand("half-written", {}, 'mkdir "$out"; echo partial > "$out/a"; exit 4');
    const outcome = await run(lib.attempt(lib.build(drv)));
    expect(outcome._tag).toBe("Left");
    expect(existsSync(join(store, drv.storeName))).toBe(false);
    expect(existsSync(validMarker(join(store, drv.storeName)))).toBe(false);
  });

  it("sweep what killed builds of other derivations left, on the next build of anything", async () => {
    const { sweep } = await import("../../src/builtins/derivation/store.js");
    const builds = join(cacheDir, "builds");
    mkdirSync(builds, { recursive: true });
    const dead = "0123456789abcdef0123456789abcdef-never-again";
    mkdirSync(join(builds, `${dead}.2147483646`, "work"), { recursive: true });
    writeFileSync(join(builds, `${dead}.2147483646`, "work", "big"), "x".repeat(1000));
    mkdirSync(join(store, dead), { recursive: true });
    const oldTemp = join(builds, `${dead}.lock.2147483646.tmp`);
    writeFileSync(oldTemp, "");
    const past = (Date.now() - 120_000) / 1000;
    utimesSync(oldTemp, past, past);
    // A build in progress elsewhere (its lock held by a live owner) keeps its directory.
    const busy = "fedcba9876543210fedcba9876543210-busy";
    mkdirSync(join(builds, `${busy}.1`), { recursive: true });
    writeFileSync(join(builds, `${busy}.lock`), `${JSON.stringify(ownOwner())}\n`);
    sweep(cacheDir);
    const left = readdirSync(builds);
    expect(left.filter((entry) => entry.startsWith(dead))).toEqual([]);
    expect(left).toContain(`${busy}.1`);
    expect(existsSync(join(store, dead))).toBe(false);
    // Valid outputs stay.
    const kept = await run(lib.build(lib.toFile("kept.txt", "kept")));
    sweep(cacheDir);
    expect(readFileSync(kept, "utf8")).toBe("kept");
  });
});
