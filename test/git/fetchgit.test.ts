import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { toolFixture, git, type ToolFixture } from "./fixtures.js";
import { startGitHttpServer, type GitHttpServer } from "./http-server.js";
import { session } from "./support.js";

let fixture: ToolFixture;
let server: GitHttpServer;

beforeAll(async () => {
  fixture = toolFixture();
  server = await startGitHttpServer(fixture.root);
});
afterAll(() => server?.close());

const transports = [
  ["file://", () => fixture.fileUrl],
  ["http://", () => `${server.url}/tool.git`],
] as const;

describe.each(transports)("fetchgit over %s", (_name, url) => {
  test("a pinned commit: checkout without .git, export-ignore and export-subst honoured, read-only, no warning", async () => {
    const s = session();
    const path = await s.fetch({ url: url(), rev: fixture.commits.first });
    expect(existsSync(join(path, ".git"))).toBe(false);
    expect(readFileSync(join(path, "tool.ts"), "utf8")).toContain('greet("first"');
    expect(existsSync(join(path, "secret.txt"))).toBe(false);
    expect(readFileSync(join(path, "version.txt"), "utf8")).toBe(`commit ${fixture.commits.first}\n`);
    expect(statSync(join(path, "bin/run.sh")).mode & 0o777).toBe(0o555);
    expect(statSync(join(path, "tool.ts")).mode & 0o777).toBe(0o444);
    expect(statSync(path).mode & 0o777).toBe(0o555);
    expect(readlinkSync(join(path, "link.ts"))).toBe("tool.ts");
    expect(s.logs).toEqual([]);
  });

  test.each([
    ["an annotated tag", "v1", "first"],
    ["a lightweight tag", "v1-light", "first"],
    ["a branch", "dev", "dev"],
    ["the default branch (no rev)", undefined, "main"],
    ["HEAD", "HEAD", "main"],
  ] as const)("%s resolves to its commit, with one warning naming it", async (_what, rev, expected) => {
    const s = session();
    const commit = fixture.commits[expected];
    const path = await s.fetch({ url: url(), ...(rev === undefined ? {} : { rev }) });
    expect(path.endsWith(commit)).toBe(true);
    expect(s.logs).toHaveLength(1);
    expect(s.logs[0]).toContain(`'${rev ?? "HEAD"}'`);
    expect(s.logs[0]).toContain(`resolved to commit ${commit}`);
    expect(s.logs[0]).toMatch(/^warning: /);
  });

  test("an abbreviated hash resolves through the whole history", async () => {
    const s = session();
    const path = await s.fetch({ url: url(), rev: fixture.commits.dev.slice(0, 9) });
    expect(path.endsWith(fixture.commits.dev)).toBe(true);
    expect(s.logs[0]).toContain(`resolved to commit ${fixture.commits.dev}`);
  });

  test("an unknown rev and an unknown commit name the URL and the rev", async () => {
    const s = session();
    await expect(s.fetch({ url: url(), rev: "no-such-branch" })).rejects.toThrow(/unknown rev 'no-such-branch' in .*tool\.git/);
    const missing = "0123456789abcdef0123456789abcdef01234567";
    await expect(s.fetch({ url: url(), rev: missing })).rejects.toThrow(new RegExp(`unknown rev '${missing}' in .*tool\\.git`));
  });

  test("a missing repository is reported as such", async () => {
    const s = session();
    const wrong = url().replace("tool.git", "nothing-here.git");
    await expect(s.fetch({ url: wrong, rev: "main" })).rejects.toThrow(/nothing-here\.git is not a git repository/);
  });
});

describe("fetchgit and moving refs", () => {
  test("a branch is re-resolved on every run (nix-exec never refreshed it)", async () => {
    const f = toolFixture();
    const s = session();
    const before = await s.fetch({ url: f.fileUrl, rev: "dev" });
    expect(before.endsWith(f.commits.dev)).toBe(true);
    git(f.work.dir, "checkout", "-q", "dev");
    const moved = f.work.commit("dev moves", { "more.txt": "more\n" });
    f.work.push(f.bare);
    const after = await s.fetch({ url: f.fileUrl, rev: "dev" });
    expect(after.endsWith(moved)).toBe(true);
  });

  test("a pinned commit already checked out is found without git (the bare repository can be gone)", async () => {
    const s = session();
    const path = await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.main });
    const repo = join(path, "..", "..", "repo.git");
    const { rmSync } = await import("node:fs");
    rmSync(repo, { recursive: true, force: true });
    expect(await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.main })).toBe(path);
  });

  test("the cache is keyed by the whole URL: two repositories with the same basename do not collide", async () => {
    const a = toolFixture();
    const b = toolFixture();
    const s = session();
    const pa = await s.fetch({ url: a.fileUrl, rev: a.commits.main });
    const pb = await s.fetch({ url: b.fileUrl, rev: b.commits.main });
    expect(pa).not.toBe(pb);
    expect(readdirSync(join(s.cacheDir, "git"))).toHaveLength(2);
  });

  test("a local path (relative to the script's directory) works like a file URL", async () => {
    const s = session();
    const path = await s.fetch({ url: fixture.bare, rev: fixture.commits.first });
    expect(readFileSync(join(path, "tool.ts"), "utf8")).toContain("first");
  });

  test("fetchSubmodules: false and true are cached separately", async () => {
    const s = session();
    const withSubs = await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    const without = await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first, fetchSubmodules: false });
    expect(without).toBe(`${withSubs}-nosub`);
    expect(lstatSync(without).isDirectory()).toBe(true);
  });
});
