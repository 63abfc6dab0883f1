import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { toolFixture, submoduleFixture, WorkRepo, type ToolFixture } from "./fixtures.js";
import { startGitHttpServer, type GitHttpServer } from "./http-server.js";
import { session, until } from "./support.js";
import { tempDir } from "../helpers.js";
import { contentHash } from "../../src/builtins/fetchgit/hash.js";
import { normalizeUrl, resolveSubmoduleUrl, validateRev } from "../../src/builtins/fetchgit/url.js";
import { progressBar, renderBar } from "../../src/builtins/fetchgit/progress.js";
import { repositoryPaths } from "../../src/builtins/fetchgit/cache.js";

let fixture: ToolFixture;
beforeAll(() => {
  fixture = toolFixture();
});

describe("submodules", () => {
  let server: GitHttpServer;
  const subs = submoduleFixture();
  beforeAll(async () => {
    server = await startGitHttpServer(subs.root);
  });
  afterAll(() => server.close());

  test.each([
    ["file://", () => subs.appUrl],
    ["http://", () => `${server.url}/app.git`],
  ])("recursive, relative URLs resolved against the parent (%s)", async (_name, url) => {
    const s = session();
    const path = await s.fetch({ url: url(), rev: subs.app });
    expect(readFileSync(join(path, "app.txt"), "utf8")).toBe("app content\n");
    expect(readFileSync(join(path, "vendor/lib/lib.txt"), "utf8")).toBe("lib content\n");
    expect(readFileSync(join(path, "vendor/lib/deep/leaf.txt"), "utf8")).toBe("leaf content\n");
    // Each submodule went through the same cache: three repositories.
    expect(readdirSync(join(s.cacheDir, "git"))).toHaveLength(3);
  });

  test("fetchSubmodules: false leaves the submodule directory empty", async () => {
    const s = session();
    const path = await s.fetch({ url: subs.appUrl, rev: subs.app, fetchSubmodules: false });
    expect(existsSync(join(path, "vendor/lib/lib.txt"))).toBe(false);
    expect(readdirSync(join(s.cacheDir, "git"))).toHaveLength(1);
  });

  test("resolveSubmoduleUrl follows git's rules", () => {
    expect(resolveSubmoduleUrl("https://host/a/b.git", "../c.git")).toBe("https://host/a/c.git");
    expect(resolveSubmoduleUrl("https://host/a/b.git/", "./sub")).toBe("https://host/a/b.git/sub");
    expect(resolveSubmoduleUrl("git@host:a/b.git", "../c.git")).toBe("git@host:a/c.git");
    expect(resolveSubmoduleUrl("git@host:b.git", "../c.git")).toBe("git@host:c.git");
    expect(resolveSubmoduleUrl("/srv/a/b", "../../c")).toBe("/srv/c");
    expect(resolveSubmoduleUrl("https://host/a/b.git", "https://other/x.git")).toBe("https://other/x.git");
  });
});

describe("hash", () => {
  test("a matching hash passes; a mismatch is an error and nothing is cached", async () => {
    const s = session();
    const path = await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    const good = contentHash(path);
    const hex = Buffer.from(good.slice("sha256-".length), "base64").toString("hex");

    const fresh = session();
    const wrong = "sha256-" + Buffer.alloc(32, 7).toString("base64");
    await expect(fresh.fetch({ url: fixture.fileUrl, rev: fixture.commits.first, hash: wrong })).rejects.toThrow(
      `hash mismatch for ${fixture.fileUrl} at ${fixture.commits.first}: expected ${wrong}, got ${good}; nothing was cached`,
    );
    const checkouts = repositoryPaths(fresh.cacheDir, fixture.fileUrl).checkouts;
    expect(readdirSync(checkouts)).toEqual([]);
    expect(await fresh.fetch({ url: fixture.fileUrl, rev: fixture.commits.first, hash: good })).toMatch(/[0-9a-f]{40}$/);
    // The hex form is the same hash; the warm path checks it from the recorded metadata.
    expect(await fresh.fetch({ url: fixture.fileUrl, rev: fixture.commits.first, hash: hex })).toBe(join(checkouts, fixture.commits.first));
    await expect(fresh.fetch({ url: fixture.fileUrl, rev: fixture.commits.first, hash: wrong })).rejects.toThrow(/hash mismatch/);
  });

  test("the canonical form covers names, modes and contents", () => {
    const dir = WorkRepo.create().write({ "a.txt": "x", "b/c.sh": { text: "y", executable: true }, l: { symlink: "a.txt" } }).dir;
    const before = contentHash(dir);
    chmodSync(join(dir, "a.txt"), 0o755);
    expect(contentHash(dir)).not.toBe(before);
    chmodSync(join(dir, "a.txt"), 0o644);
    expect(contentHash(dir)).toBe(before);
    writeFileSync(join(dir, "a.txt"), "z");
    expect(contentHash(dir)).not.toBe(before);
  });

  test("a malformed hash is refused", async () => {
    await expect(session().fetch({ url: fixture.fileUrl, rev: fixture.commits.first, hash: "md5-abc" })).rejects.toThrow(
      /'hash' for .* is 'md5-abc': expected sha256-/,
    );
  });
});

describe("synchronous use", () => {
  test("unsafePerformIO gets a pinned checkout already in the cache synchronously, and names fetchgit otherwise", async () => {
    const s = session();
    const path = await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    const { makeLib } = await import("../../src/cli/lib.js");
    const { setAmbientContext } = await import("../../src/base/context.js");
    setAmbientContext(s.ctx);
    const lib = makeLib({ dir: "/" });
    expect(lib.builtins.unsafePerformIO(lib.builtins.fetchgit({ url: fixture.fileUrl, rev: fixture.commits.first }))).toBe(path);
    expect(() => lib.builtins.unsafePerformIO(lib.builtins.fetchgit({ url: fixture.fileUrl, rev: fixture.commits.main }))).toThrow(
      `unsafePerformIO cannot run asynchronous work: it reached lib.builtins.fetchgit(${fixture.fileUrl} ${fixture.commits.main})`,
    );
  });
});

describe("offline", () => {
  test("answers pinned and previously resolved revs from the cache, and names what is missing", async () => {
    const online = session();
    const pinned = await online.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    const branch = await online.fetch({ url: fixture.fileUrl, rev: "dev" });
    const offline = session({ offline: true }, online.cacheDir);
    expect(await offline.fetch({ url: fixture.fileUrl, rev: fixture.commits.first })).toBe(pinned);
    expect(await offline.fetch({ url: fixture.fileUrl, rev: "dev" })).toBe(branch);
    expect(offline.logs).toEqual([expect.stringContaining(`'dev' of ${fixture.fileUrl} is not pinned; it resolved to commit ${fixture.commits.dev}`)]);
    await expect(offline.fetch({ url: fixture.fileUrl, rev: "main" })).rejects.toThrow(
      new RegExp(`offline .*'main' of ${fixture.fileUrl} is not in the cache .*run once without --offline`),
    );
    await expect(offline.fetch({ url: fixture.fileUrl, rev: fixture.commits.main })).rejects.toThrow(/is not in the cache/);
    // A commit already in the bare repository is assembled without the network.
    expect(await offline.fetch({ url: fixture.fileUrl, rev: fixture.commits.first, fetchSubmodules: false })).toBe(`${pinned}-nosub`);
  });
});

describe("refused before git runs", () => {
  test.each([
    ["ext::sh -c touch% /tmp/pwned", /'<transport>::<address>' helpers/],
    ["fd::17", /'<transport>::<address>' helpers/],
    ["--upload-pack=touch /tmp/pwned", /starts with '-'/],
    ["-oProxyCommand=x", /starts with '-'/],
    ["ftp://host/repo.git", /the 'ftp' transport is not allowed/],
    ["javascript://x", /the 'javascript' transport is not allowed/],
    ["https://", /has no host|not a valid URL/],
    ["ssh://-oProxyCommand=x/repo", /host starts with '-'|not a valid URL/],
    ["weird:thing", /neither a URL/],
    ["https://host/repo\nx", /control characters/],
  ])("url %j", (url, message) => {
    expect(() => normalizeUrl(url, "/")).toThrow(message);
  });

  test.each(["https://h/r.git", "http://h/r", "ssh://git@h/r.git", "git://h/r", "file:///srv/r", "git@github.com:o/r.git", "/abs/path", "./rel"])(
    "url %j is accepted",
    (url) => {
      expect(() => normalizeUrl(url, "/base")).not.toThrow();
    },
  );

  test.each([
    ["--output=/tmp/x", /starts with '-'/],
    ["-c", /starts with '-'/],
    ["main;rm -rf /", /only letters, digits/],
    ["a b", /only letters, digits/],
    ["v1^{commit}", /only letters, digits/],
    ["HEAD~1", /only letters, digits/],
    ["a..b", /'\.\.'/],
    ["main@{1}", /only letters|'@\{'/],
    ["refs/heads/x.lock", /\.lock/],
    ["/main", /start or end/],
    ["$(touch x)", /only letters, digits/],
  ])("rev %j", (rev, message) => {
    expect(() => validateRev(rev, "u")).toThrow(message);
  });

  test("simple-git's guards stay on behind tsexec's own checks", async () => {
    const { Git } = await import("../../src/builtins/fetchgit/git.js");
    const git = new Git(tempDir("guard-"), { timeoutMs: 5000, verbose: false, log: () => {} });
    await expect(git.run(["fetch", "--upload-pack=touch /tmp/tsexec-pwned", "x"])).rejects.toThrow(/allowUnsafePack/);
    await expect(git.run(["-c", "core.sshCommand=touch /tmp/tsexec-pwned", "fetch", "x"])).rejects.toThrow(/allowUnsafe/);
    expect(existsSync("/tmp/tsexec-pwned")).toBe(false);
  });

  test("a refused URL fails the IO with the URL named, without touching the cache", async () => {
    const s = session();
    await expect(s.fetch({ url: "ext::sh -c id", rev: "main" })).rejects.toThrow(/refusing URL 'ext::sh -c id'/);
    await expect(s.fetch({ url: fixture.fileUrl, rev: "-main" })).rejects.toThrow(/refusing rev '-main'/);
    expect(existsSync(join(s.cacheDir, "git"))).toBe(false);
  });
});

describe("transport behaviours", () => {
  test("a server refusing unadvertised hashes (protocol v0): falls back to fetching refs", async () => {
    const f = toolFixture();
    // A commit no ref points at: a v0 server does not advertise it, so it refuses it by hash.
    const hidden = f.work.commit("hidden", { "hidden.txt": "hidden\n" });
    f.work.commit("after hidden");
    f.work.push(f.bare);
    const server = await startGitHttpServer(f.root, { protocolV2: false });
    try {
      const s = session({ verbose: true });
      const path = await s.fetch({ url: `${server.url}/tool.git`, rev: hidden });
      expect(readFileSync(join(path, "hidden.txt"), "utf8")).toBe("hidden\n");
      expect(s.logs.some((line) => line.includes("+refs/heads/*:refs/remotes/origin/*"))).toBe(true);
    } finally {
      await server.close();
    }
  });

  test("a stalled server times out with the URL and rev named", async () => {
    const server = await startGitHttpServer(fixture.root, { stall: /upload-pack/ });
    const previous = process.env.TSEXEC_GIT_TIMEOUT;
    process.env.TSEXEC_GIT_TIMEOUT = "1";
    try {
      const s = session();
      await expect(s.fetch({ url: `${server.url}/tool.git`, rev: "main" })).rejects.toThrow(
        new RegExp(`git timed out after 1 s without progress fetching 'main' from ${server.url}/tool.git`),
      );
    } finally {
      if (previous === undefined) delete process.env.TSEXEC_GIT_TIMEOUT;
      else process.env.TSEXEC_GIT_TIMEOUT = previous;
      await server.close();
    }
  });

  test("an unreachable host is named", async () => {
    const s = session();
    await expect(s.fetch({ url: "http://127.0.0.1:1/tool.git", rev: "main" })).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:1\/tool\.git to fetch 'main'/);
  });

  test("--verbose prints the git commands", async () => {
    const s = session({ verbose: true });
    await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    expect(s.logs.some((line) => line.startsWith(`git fetch --depth 1 --no-tags ${fixture.fileUrl} +${fixture.commits.first}:refs/tsexec/`))).toBe(true);
    expect(s.logs.some((line) => line.startsWith("git archive --format=tar"))).toBe(true);
  });
});

describe("the cache repository", () => {
  const packsIn = (bare: string) => readdirSync(join(bare, "objects", "pack")).filter((name) => name.endsWith(".pack"));

  test("a fetch keeps the pack it receives (no object written loose)", async () => {
    const s = session();
    await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    const bare = repositoryPaths(s.cacheDir, fixture.fileUrl).bare;
    expect(packsIn(bare)).toHaveLength(1);
    expect(readdirSync(join(bare, "objects")).filter((name) => /^[0-9a-f]{2}$/.test(name))).toEqual([]);
  });

  test("a branch still at its last commit needs no git rev-parse; a moved branch and an annotated tag do", async () => {
    const f = toolFixture();
    const s = session({ verbose: true });
    const revParses = () => s.logs.filter((line) => line.startsWith("git rev-parse")).length;
    const checkout = (commit: string) => join(repositoryPaths(s.cacheDir, f.fileUrl).checkouts, commit);
    expect(await s.fetch({ url: f.fileUrl, rev: "main" })).toBe(checkout(f.commits.main));
    expect(revParses()).toBe(1);
    expect(await s.fetch({ url: f.fileUrl, rev: "main" })).toBe(checkout(f.commits.main));
    expect(revParses()).toBe(1);
    expect(s.logs.filter((line) => line.startsWith("git fetch"))).toHaveLength(2);
    // An annotated tag's ref names the tag object, never the commit recorded for it: peeled each time.
    expect(await s.fetch({ url: f.fileUrl, rev: "v1" })).toBe(checkout(f.commits.first));
    expect(await s.fetch({ url: f.fileUrl, rev: "v1" })).toBe(checkout(f.commits.first));
    expect(revParses()).toBe(3);
    const moved = f.work.commit("moved", { "moved.txt": "moved\n" });
    f.work.push(f.bare);
    expect(await s.fetch({ url: f.fileUrl, rev: "main" })).toBe(checkout(moved));
    expect(revParses()).toBe(4);
  });

  test("past 50 packs, git gc consolidates them after the fetch", async () => {
    const f = toolFixture();
    const s = session({ verbose: true });
    await s.fetch({ url: f.fileUrl, rev: f.commits.first });
    const bare = repositoryPaths(s.cacheDir, f.fileUrl).bare;
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
    for (let i = 0; i < 51; i++) {
      const blob = execFileSync("git", ["hash-object", "-w", "--stdin"], { cwd: bare, env, input: `blob ${i}\n`, encoding: "utf8" }).trim();
      execFileSync("git", ["pack-objects", "-q", "objects/pack/pack"], { cwd: bare, env, input: `${blob}\n`, stdio: ["pipe", "ignore", "pipe"] });
    }
    expect(packsIn(bare).length).toBeGreaterThan(50);
    const path = await s.fetch({ url: f.fileUrl, rev: "dev" });
    expect(readFileSync(join(path, "dev.txt"), "utf8")).toBe("on dev\n");
    expect(s.logs.some((line) => line.startsWith("git -c gc.auto="))).toBe(true);
    expect(packsIn(bare).length).toBeLessThan(5);
    // The repository still serves what it holds.
    expect(await s.fetch({ url: f.fileUrl, rev: f.commits.main })).toMatch(new RegExp(`${f.commits.main}$`));
  });
});

describe("progress bar", () => {
  const event = { stage: "receiving", progress: 50, processed: 5, total: 10 };
  test("nothing is drawn off a terminal", () => {
    expect(progressBar("x", { isTTY: false, write: () => true })).toBeUndefined();
  });
  test("on a terminal, drawn only after the delay, and erased at the end", () => {
    const written: string[] = [];
    let now = 0;
    const bar = progressBar("url main", { isTTY: true, columns: 100, write: (t: string) => written.push(t) }, 1000, () => now)!;
    bar.update(event);
    expect(written).toEqual([]);
    now = 1500;
    bar.update(event);
    expect(written[0]).toContain("fetching url main  receiving [##########..........]  50% (5/10)");
    bar.done();
    expect(written[1]).toBe("\r\x1b[K");
  });
  test("cut to the terminal's width", () => {
    expect(renderBar("a".repeat(200), event, 60)).toHaveLength(59);
  });
});

describe("leftovers of killed processes", () => {
  test("a lock whose pid was reused by another process (its start time differs) is stale too", async () => {
    const s = session();
    const paths = repositoryPaths(s.cacheDir, fixture.fileUrl);
    mkdirSync(paths.root, { recursive: true });
    // This very process is alive, but it did not start at tick 1.
    writeFileSync(paths.lock, JSON.stringify({ pid: process.pid, start: "1", host: hostname(), since: 0 }));
    expect(await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first })).toBe(join(paths.checkouts, fixture.commits.first));
    expect(existsSync(paths.lock)).toBe(false);
  });

  test("a lock held by a live process is waited for (polled, no fixed sleep)", async () => {
    const s = session();
    const paths = repositoryPaths(s.cacheDir, fixture.fileUrl);
    mkdirSync(paths.root, { recursive: true });
    writeFileSync(paths.lock, JSON.stringify({ pid: process.pid, host: hostname(), since: 0 }));
    let settled = false;
    const fetching = s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first }).finally(() => (settled = true));
    // Still waiting once the wait has been reported (after 2 s), naming the owner.
    await until(() => s.logs.some((line) => line.startsWith(`waiting for the repository ${fixture.fileUrl}: the lock ${paths.lock} is held by pid ${process.pid} on host ${hostname()}`)));
    expect(settled).toBe(false);
    expect(readdirSync(paths.root).includes("checkouts")).toBe(false);
    rmSync(paths.lock);
    expect(await fetching).toBe(join(paths.checkouts, fixture.commits.first));
  });

  test("a stale lock and temporary directories of a dead process are cleared by the next fetch", async () => {
    const s = session();
    const paths = repositoryPaths(s.cacheDir, fixture.fileUrl);
    const { spawnSync } = await import("node:child_process");
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    mkdirSync(paths.root, { recursive: true });
    writeFileSync(paths.lock, JSON.stringify({ pid: Number(dead), host: hostname(), since: 0 }));
    writeFileSync(join(paths.root, `lock.${dead}-x-0-abc.tmp`), "");
    mkdirSync(join(paths.checkouts, `.tmp-${dead}-x-0-abc`, "half"), { recursive: true });
    const path = await s.fetch({ url: fixture.fileUrl, rev: fixture.commits.first });
    expect(readdirSync(paths.checkouts)).toEqual([fixture.commits.first]);
    expect(existsSync(paths.lock)).toBe(false);
    expect(existsSync(join(paths.root, `lock.${dead}-x-0-abc.tmp`))).toBe(false);
    expect(path).toBe(join(paths.checkouts, fixture.commits.first));
  });
});
