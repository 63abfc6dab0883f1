/**
 * fetchgit's cache files are validated on read (issue 13): a refs.json or a
 * checkout record of the wrong shape is removed with one warning and
 * rebuilt; leftovers of dead processes are swept. Also the hourly
 * re-resolution of moving refs, on both sides of the hour.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir } from "../helpers.js";
import { toolFixture, WorkRepo, type ToolFixture } from "./fixtures.js";
import { session } from "./support.js";
import { repositoryPaths } from "../../src/builtins/fetchgit/cache.js";
import { refTtlMs } from "../../src/inputs/reference.js";
import { contentHash } from "../../src/builtins/fetchgit/hash.js";

let fixture: ToolFixture;
beforeAll(() => {
  fixture = toolFixture();
});

const deadPid = () => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

describe("refs.json of the wrong shape", () => {
  test.each([
    ["a null resolution", '{"main":null}'],
    ["a commit that is a path", '{"main":{"commit":"../../../../etc","resolvedAt":9e15}}'],
    ["truncated", '{"main":{"commit":"'],
    ["an array", "[1,2]"],
    ["a resolvedAt that is text", `{"main":{"commit":"${"a".repeat(40)}","resolvedAt":"now"}}`],
  ])("%s: removed with one warning, the rev resolved again and recorded", async (_what, text) => {
    const s = session({}, tempDir("cache-"));
    const paths = repositoryPaths(s.cacheDir, fixture.fileUrl);
    mkdirSync(paths.root, { recursive: true });
    writeFileSync(paths.refs, text);
    expect((await s.fetch({ url: fixture.fileUrl, rev: "main" })).endsWith(fixture.commits.main)).toBe(true);
    expect(s.logs.filter((l) => l.startsWith("warning: fetchgit: removed"))).toEqual([
      `warning: fetchgit: removed ${paths.refs}: it was not a valid record of resolved refs ({ <rev>: { commit, resolvedAt } }); it will be rebuilt`,
    ]);
    expect(JSON.parse(readFileSync(paths.refs, "utf8")).main.commit).toBe(fixture.commits.main);
  });

  test("the real binary, a reference with {\"main\":null} in refs.json: runs, one tsexec: warning line naming the file", async () => {
    const cacheDir = tempDir("cache-");
    const paths = repositoryPaths(cacheDir, fixture.fileUrl);
    mkdirSync(paths.root, { recursive: true });
    writeFileSync(paths.refs, '{"main":null}');
    const out = await runTsexec([`git+${fixture.fileUrl}?ref=main#tool.ts`], { cacheDir });
    expect(out.code).toBe(0);
    expect(out.stderr.split("\n").filter((l) => l.includes("removed"))).toEqual([
      `tsexec: warning: fetchgit: removed ${paths.refs}: it was not a valid record of resolved refs ({ <rev>: { commit, resolvedAt } }); it will be rebuilt`,
    ]);
  });
});

describe("checkout records of the wrong shape", () => {
  test("an invalid <commit>.json is removed with a warning and the hash computed again", async () => {
    const s = session();
    const path = await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    const hash = contentHash(path);
    writeFileSync(`${path}.json`, '{"contentHash":null}');
    expect(await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first, hash })).toBe(path);
    expect(s.logs).toEqual([`warning: fetchgit: removed ${path}.json: it was not a valid checkout record ({ commit, contentHash }); it will be rebuilt`]);
    expect(JSON.parse(readFileSync(`${path}.json`, "utf8")).contentHash).toBe(hash);
  });
});

describe("leftovers of dead processes", () => {
  test("temporary checkouts, records, refs and lock leftovers of a dead pid are swept; a live pid's are kept", async () => {
    const s = session();
    const paths = repositoryPaths(s.cacheDir, fixture.fileUrl);
    await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    const dead = deadPid();
    const live = process.ppid;
    const made = [
      join(paths.checkouts, `.tmp-${dead}-a-0-x`),
      join(paths.checkouts, `${fixture.commits.main}.json.${dead}-a-0-x.tmp`),
      join(paths.root, `refs.json.${dead}-a-0-x.tmp`),
      join(paths.root, `lock.stale-${dead}-a-0-x`),
      join(paths.root, `lock.released-${dead}-a-0-x`),
      join(paths.root, `lock.${dead}-a-0-x`),
      join(paths.bare, "refs", "tsexec", `${dead}-a-0-x`),
    ];
    const kept = [join(paths.checkouts, `.tmp-${live}-a-0-x`), join(paths.root, `refs.json.${live}-a-0-x.tmp`)];
    mkdirSync(join(paths.bare, "refs", "tsexec"), { recursive: true });
    for (const path of [...made, ...kept]) writeFileSync(path, "x");
    await s.fetch({ url: fixture.fileUrl, rev: "main" });
    for (const path of made) expect([path, existsSync(path)]).toEqual([path, false]);
    for (const path of kept) expect([path, existsSync(path)]).toEqual([path, true]);
    expect(readdirSync(join(paths.bare, "refs", "tsexec"))).toEqual([]);
  });
});

describe("the hourly re-resolution of moving refs", () => {
  /** A repository whose main moved after the cache recorded it at `age` ms ago. */
  async function movedAfter(age: number) {
    const w = WorkRepo.create();
    const first = w.commit("one", { "s.ts": `export default ({ lib }: any) => lib.io(() => console.log("one"));\n` });
    const bare = w.publish(tempDir("ref-root-"), "moving");
    const cacheDir = tempDir("cache-");
    const ref = `git+${pathToFileURL(bare).href}?ref=main#s.ts`;
    expect((await runTsexec([ref], { cacheDir })).stdout).toBe("one\n");
    const second = w.commit("two", { "s.ts": `export default ({ lib }: any) => lib.io(() => console.log("two"));\n` });
    w.push(bare);
    const paths = repositoryPaths(cacheDir, pathToFileURL(bare).href);
    const refs = JSON.parse(readFileSync(paths.refs, "utf8"));
    refs.main.resolvedAt = Date.now() - age;
    writeFileSync(paths.refs, JSON.stringify(refs));
    return { ref, cacheDir, first, second };
  }

  test("resolved 59 minutes ago: used as is, no fetch", async () => {
    const m = await movedAfter(refTtlMs - 60_000);
    const out = await runTsexec([m.ref], { cacheDir: m.cacheDir });
    expect(out.stdout).toBe("one\n");
    expect(out.stderr).toContain(`resolved to commit ${m.first}`);
  });

  test("resolved 61 minutes ago: asked again, the new commit runs", async () => {
    const m = await movedAfter(refTtlMs + 60_000);
    const out = await runTsexec([m.ref], { cacheDir: m.cacheDir });
    expect(out.stdout).toBe("two\n");
    expect(out.stderr).toContain(`resolved to commit ${m.second}`);
  });

  test("refTtlMs is an hour", () => {
    expect(refTtlMs).toBe(3_600_000);
  });
});

describe("making cache directories", () => {
  test("makeDirectories makes every missing level, and names the one that cannot be made", async () => {
    const { makeDirectories } = await import("../../src/base/files.js");
    const base = tempDir("mkdirs-");
    makeDirectories(join(base, "a", "b", "c"), () => "unused");
    expect(existsSync(join(base, "a", "b", "c"))).toBe(true);
    writeFileSync(join(base, "file"), "");
    expect(() => makeDirectories(join(base, "file", "x", "y"), (dir, code) => `cannot make ${dir} (${code})`)).toThrow(`cannot make ${join(base, "file")} (EEXIST)`);
    expect(() => makeDirectories("/proc/self/x/y", (dir, code) => `cannot make ${dir} (${code})`)).toThrow("cannot make /proc/self/x (ENOENT)");
  });
});
