/**
 * Crafted repositories whose trees try to write outside the checkout (issue
 * 13): a symbolic link with entries beneath it, a submodule beneath a link.
 * Each is refused with one error naming the URL, the commit and the entry,
 * and the directory the link points at stays exactly as it was: on fetchgit
 * (pinned or not, with or without hash), on running the reference, on `show`.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir } from "../helpers.js";
import { Crafter, WorkRepo } from "./fixtures.js";
import { session } from "./support.js";

/** A snapshot of a directory tree (names and file contents), to show it untouched. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string, prefix: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const rel = `${prefix}${entry.name}`;
      out.push(rel);
      if (entry.isDirectory()) walk(join(at, entry.name), `${rel}/`);
    }
  };
  walk(dir, "");
  return out.sort();
}

const someHash = "sha256-47DEQpj8HBSaTIITz5aXF5xN1bTvpc2GQYHFMfbKu9c=";

interface Hostile {
  readonly url: string;
  readonly commit: string;
  readonly outside: string;
  readonly before: string[];
}

/** A published repository whose HEAD is the crafted commit `make(crafter, outside)` returns. */
function hostileRepo(make: (c: Crafter, outside: string) => string, root = tempDir("hostile-root-")): Hostile {
  const outside = tempDir("hostile-outside-");
  mkdirSync(join(outside, "target"));
  writeFileSync(join(outside, "target", "keep.txt"), "keep\n");
  writeFileSync(join(outside, "keep.txt"), "keep\n");
  const work = WorkRepo.create();
  work.commit("start", { "ok.ts": "export default ({ lib }: any) => lib.unit(1);\n" });
  const commit = make(new Crafter(work), outside);
  const name = `hostile-${Math.random().toString(36).slice(2, 8)}`;
  const bare = work.publish(root, name);
  return { url: pathToFileURL(bare).href, commit, outside, before: snapshot(outside) };
}

/** `lnk -> <outside>` and a tree `lnk/` holding pwned.txt (and a script, for runs). */
function symlinkParent(c: Crafter, outside: string): string {
  const pwned = c.blob("pwned\n");
  const script = c.blob("export default ({ lib }: any) => lib.unit(1);\n");
  const inner = c.tree([{ mode: "100644", name: "pwned.txt", id: pwned }]);
  return c.commit(
    c.tree([
      { mode: "120000", name: "lnk", id: c.blob(outside) },
      { mode: "40000", name: "lnk", id: inner },
      { mode: "100644", name: "run.ts", id: script },
    ]),
  );
}

/** `s -> <outside>` and a submodule at `s/target` (whose url would be fine). */
function submoduleUnderLink(c: Crafter, outside: string, subUrl: string, subCommit: string): string {
  const gitmodules = c.blob(`[submodule "s/target"]\n\tpath = s/target\n\turl = ${subUrl}\n`);
  const inner = c.tree([{ mode: "160000", name: "target", id: subCommit }]);
  return c.commit(
    c.tree([
      { mode: "100644", name: ".gitmodules", id: gitmodules },
      { mode: "120000", name: "s", id: c.blob(outside) },
      { mode: "40000", name: "s", id: inner },
    ]),
  );
}

/** A file, then a symlink of the same name pointing outside, then the file again (write through the link). */
function duplicateThroughLink(c: Crafter, outside: string): string {
  return c.commit(
    c.tree([
      { mode: "120000", name: "keep.txt", id: c.blob(join(outside, "keep.txt")) },
      { mode: "100644", name: "keep.txt", id: c.blob("overwritten\n") },
    ]),
  );
}

/** A tree entry named `..` holding pwned.txt (git archive itself refuses to write it). */
function dotDot(c: Crafter): string {
  const inner = c.tree([{ mode: "100644", name: "pwned.txt", id: c.blob("pwned\n") }]);
  return c.commit(c.tree([{ mode: "40000", name: "..", id: inner }]));
}

/** A link with an ESC sequence in its name, then an entry beneath it: the error must not print the ESC. */
function escapeName(c: Crafter, outside: string): string {
  const inner = c.tree([{ mode: "100644", name: "pwned.txt", id: c.blob("pwned\n") }]);
  return c.commit(
    c.tree([
      { mode: "120000", name: "\u001b[2Jl", id: c.blob(outside) },
      { mode: "40000", name: "\u001b[2Jl", id: inner },
    ]),
  );
}

let cases: { name: string; repo: Hostile; entry: string }[];

beforeAll(() => {
  const root = tempDir("hostile-root-");
  const subWork = WorkRepo.create();
  const subCommit = subWork.commit("sub", { "sub.txt": "sub\n" });
  const subUrl = pathToFileURL(subWork.publish(root, "sub")).href;
  cases = [
    { name: "entry beneath a symbolic link", repo: hostileRepo(symlinkParent, root), entry: "lnk/" },
    { name: "submodule beneath a symbolic link", repo: hostileRepo((c, o) => submoduleUnderLink(c, o, subUrl, subCommit), root), entry: "s/" },
    { name: "a file written over a link of the same name", repo: hostileRepo(duplicateThroughLink, root), entry: "keep.txt" },
    { name: "a control sequence in the name", repo: hostileRepo(escapeName, root), entry: "\\x1b[2Jl/" },
  ];
});

function expectRefused(message: string, repo: Hostile, entry: string): void {
  expect(message).not.toMatch(/[\u0000-\u001f]/);
  expect(message).toContain(repo.url);
  expect(message).toContain(repo.commit);
  expect(message).toContain(`'${entry}`);
  expect(message).toContain("outside the checkout");
  expect(snapshot(repo.outside)).toEqual(repo.before);
}

describe("fetchgit refuses trees that write outside the checkout", () => {
  for (const variant of [
    { label: "pinned", rev: (r: Hostile) => r.commit, hash: undefined },
    { label: "pinned, with hash", rev: (r: Hostile) => r.commit, hash: someHash },
    { label: "unpinned (branch)", rev: () => "main", hash: undefined },
  ]) {
    test(`${variant.label}: each crafted tree`, async () => {
      for (const { repo, entry } of cases) {
        const s = session();
        const error = await s.fetch({ url: repo.url, rev: variant.rev(repo), ...(variant.hash ? { hash: variant.hash } : {}) }).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(error?.name).toBe("TsexecError");
        expectRefused(error!.message, repo, entry);
        // Nothing half-made stays in the cache: no checkout, no temporary directory.
        const gitDir = join(s.cacheDir, "git");
        for (const repoDir of readdirSync(gitDir)) {
          const checkouts = join(gitDir, repoDir, "checkouts");
          const left = existsSync(checkouts) ? readdirSync(checkouts) : [];
          expect(left.filter((n) => n.startsWith(repo.commit) || n.startsWith(".tmp-"))).toEqual([]);
        }
      }
    });
  }
});

describe("the real binary refuses them too: running the reference and show", () => {
  test("run and show: one error line, outside untouched", async () => {
    for (const { repo, entry } of cases) {
      for (const args of [[`git+${repo.url}?rev=${repo.commit}#run.ts`], ["show", `git+${repo.url}?rev=${repo.commit}`], [`git+${repo.url}#run.ts`]]) {
        const out = await runTsexec(args);
        expect(out.code).toBe(1);
        const lines = out.stderr.trim().split("\n").filter((l) => !l.includes("warning"));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^error: /);
        expectRefused(lines[0]!, repo, entry);
      }
    }
  }, 30_000);
});

test("a '..' entry: refused (git archive will not write it), one error naming URL and commit, outside untouched", async () => {
  const repo = hostileRepo((c) => dotDot(c));
  const s = session();
  const error = await s.fetch({ url: repo.url, rev: repo.commit }).then(() => undefined, (e: Error) => e);
  expect(error?.name).toBe("TsexecError");
  expect(error!.message).toContain(repo.url);
  expect(error!.message).toContain(repo.commit);
  expect(error!.message).toContain("its entry '../pwned.txt' is a path git itself refuses to write");
  expect(error!.message.split("\n")).toHaveLength(1);
  expect(snapshot(repo.outside)).toEqual(repo.before);
});
