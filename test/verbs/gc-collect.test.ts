/** collectGarbage on hand-made caches: hard links counted once, packages kept while a tree links them, trash of a killed gc removed. */
import { existsSync, linkSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { collectGarbage } from "../../src/inputs/gc/collect.js";
import { tempDir } from "../helpers.js";

const old = (path: string) => utimesSync(path, Date.now() / 1000 - 90 * 86400, Date.now() / 1000 - 90 * 86400);
const hex = (c: string) => c.repeat(32);

function npmCache(): { cache: string; pkg: string; keptTree: string; oldTree: string } {
  const cache = tempDir("gc-unit-");
  const pkg = join(cache, "npm", "packages", "a@1.0.0-abc");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "index.js"), "x".repeat(1_000_000));
  const tree = (c: string) => {
    const dir = join(cache, "npm", "trees", hex(c));
    mkdirSync(join(dir, "node_modules", "a"), { recursive: true });
    linkSync(join(pkg, "index.js"), join(dir, "node_modules", "a", "index.js"));
    writeFileSync(join(dir, "package.json"), "{}");
    return dir;
  };
  const keptTree = tree("a");
  const oldTree = tree("b");
  for (const p of [pkg, oldTree, join(oldTree, "node_modules"), join(oldTree, "node_modules", "a")]) old(p);
  return { cache, pkg, keptTree, oldTree };
}

describe("collectGarbage", () => {
  test("a package stays while a tree that stays links it; a tree's links into it are not freed bytes", () => {
    const { cache, pkg, keptTree, oldTree } = npmCache();
    const result = collectGarbage({ cacheDir: cache, maxAgeMs: 30 * 86400_000, dryRun: false, profileRoots: [] });
    expect(result.removed.map((r) => r.entry.path)).toEqual([oldTree]);
    expect(existsSync(pkg) && existsSync(keptTree)).toBe(true);
    // The 1,000,000-byte file still has links: only the tree's own files (package.json, directories) are freed.
    expect(result.bytes).toBeLessThan(1_000_000);
  });

  test("content shared by hard links is counted once when every link goes", () => {
    const { cache, pkg, keptTree } = npmCache();
    for (const p of [keptTree, join(keptTree, "node_modules")]) old(p);
    const dry = collectGarbage({ cacheDir: cache, maxAgeMs: 30 * 86400_000, dryRun: true, profileRoots: [] });
    expect(dry.removed.map((r) => r.entry.kind).sort()).toEqual(["package", "tree", "tree"]);
    expect(dry.bytes).toBeGreaterThanOrEqual(1_000_000);
    expect(dry.bytes).toBeLessThan(2_000_000);
    expect(existsSync(pkg)).toBe(true); // a dry run removes nothing
    const real = collectGarbage({ cacheDir: cache, maxAgeMs: 30 * 86400_000, dryRun: false, profileRoots: [] });
    expect(real.bytes).toBe(dry.bytes);
    expect(existsSync(pkg)).toBe(false);
  });

  test("the trash a killed gc left is removed by the next one; a live gc's trash is not", () => {
    const cache = tempDir("gc-unit-");
    mkdirSync(join(cache, ".trash", "999999999-x-0-abc", "0-tree-x"), { recursive: true });
    mkdirSync(join(cache, ".trash", `${process.pid}-y-0-abc`), { recursive: true });
    collectGarbage({ cacheDir: cache, maxAgeMs: 0, dryRun: false, profileRoots: [] });
    expect(readdirSync(join(cache, ".trash"))).toEqual([`${process.pid}-y-0-abc`]);
  });

  test("a profile root keeps its checkout and the repository; an unused checkout of it goes", () => {
    const cache = tempDir("gc-unit-");
    const repo = join(cache, "git", hex("c"));
    const keep = join(repo, "checkouts", "1".repeat(40));
    const drop = join(repo, "checkouts", "2".repeat(40));
    mkdirSync(keep, { recursive: true });
    mkdirSync(drop, { recursive: true });
    mkdirSync(join(repo, "repo.git"));
    for (const p of [keep, drop, repo, join(repo, "repo.git")]) old(p);
    const result = collectGarbage({ cacheDir: cache, maxAgeMs: 86400_000, dryRun: false, profileRoots: [keep] });
    expect(result.removed.map((r) => r.entry.path)).toEqual([drop]);
    expect(existsSync(keep) && existsSync(join(repo, "repo.git"))).toBe(true);
  });
});
