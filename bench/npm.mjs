// npm dependencies benchmark (issue 8): a tool whose package-lock.json holds 30 real packages
// (bench/fixtures/npm-tool), run by tsexec with nothing installed, against `npm ci` + node.
//
//   cold, npm's cache warm:  tsexec's first run (install into the store + transpile + run)
//                            vs `npm ci --omit=dev --ignore-scripts` + `node tool.mjs`   target <= 0.5x
//   cold, npm's cache empty: the same, both downloading from the registry            target <= 1.0x
//   warm:                    tsexec, tree already in the store, vs the same script
//                            with a locally installed node_modules                   target <= 1.05x
//   sharing:                 disk of the store after two locks sharing 27 of 30 packages (ini, dotenv, semver differ)
//                            vs after one                                             target <= 1.2x
//
// Uses the registry in the user's npm config (the real one by default): bench is not a test.
// Run alone: node bench/npm.mjs [--quick] (after npm run build).
import { execFileSync } from "node:child_process";
import { cpSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { median } from "./lib/measure.mjs";
import { output } from "./lib/git-fixture.mjs";

const root = new URL("..", import.meta.url).pathname;
const launcher = join(root, "shebang", "tsexec");
const fixtureA = join(root, "bench", "fixtures", "npm-tool");
const fixtureB = join(root, "bench", "fixtures", "npm-tool-b");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function timed(run) {
  const started = performance.now();
  run();
  return performance.now() - started;
}

const quiet = { stdio: ["ignore", "ignore", "inherit"] };

/** A fresh copy of a fixture project (package.json, package-lock.json, tool.ts, tool.mjs; no node_modules). */
function copyProject(base, fixture, name) {
  const dir = join(base, name);
  cpSync(fixture, dir, { recursive: true });
  return dir;
}

function tsexec(script, cacheDir, npmCache) {
  execFileSync(process.execPath, [launcher, script, "x"], { env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir, npm_config_cache: npmCache }, ...quiet });
}

function npmCiThenNode(dir, npmCache) {
  execFileSync(npm, ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: dir,
    env: { ...process.env, npm_config_cache: npmCache },
    ...quiet,
  });
  execFileSync(process.execPath, [join(dir, "tool.mjs"), "x"], quiet);
}

/** Bytes on disk under `dir`, each inode counted once (hard links share their blocks). */
function diskUsage(dir) {
  const seen = new Set();
  let bytes = 0;
  const walk = (path) => {
    const stat = lstatSync(path, { bigint: false });
    if (seen.has(stat.ino)) return;
    seen.add(stat.ino);
    bytes += stat.blocks * 512;
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return bytes;
}

export async function run(report) {
  const out = output(report);
  const quick = out.quick || process.argv.includes("--quick");
  const base = mkdtempSync(join(tmpdir(), "tsexec-bench-npm-"));
  let counter = 0;
  const fresh = (prefix) => mkdtempSync(join(base, `${prefix}-${counter++}-`));
  try {
    // npm's cache, warm: one npm ci fills it.
    const warmNpmCache = fresh("npm-cache");
    npmCiThenNode(copyProject(base, fixtureA, "fill"), warmNpmCache);

    const rounds = quick ? 2 : 5;
    const coldTsexec = [];
    const coldNpm = [];
    for (let i = 0; i < rounds; i++) {
      const a = () => coldTsexec.push(timed(() => tsexec(join(copyProject(base, fixtureA, `t${counter++}`), "tool.ts"), fresh("cache"), warmNpmCache)));
      const b = () => coldNpm.push(timed(() => npmCiThenNode(copyProject(base, fixtureA, `n${counter++}`), warmNpmCache)));
      if (i % 2) (a(), b());
      else (b(), a());
    }

    const emptyRounds = quick ? 1 : 3;
    const emptyTsexec = [];
    const emptyNpm = [];
    for (let i = 0; i < emptyRounds; i++) {
      const a = () => emptyTsexec.push(timed(() => tsexec(join(copyProject(base, fixtureA, `t${counter++}`), "tool.ts"), fresh("cache"), fresh("npm-cache"))));
      const b = () => emptyNpm.push(timed(() => npmCiThenNode(copyProject(base, fixtureA, `n${counter++}`), fresh("npm-cache"))));
      if (i % 2) (a(), b());
      else (b(), a());
    }

    // Warm: the same script, tree in the store vs a local node_modules (both transpiled already).
    const warmCache = fresh("cache");
    const viaStore = join(copyProject(base, fixtureA, "store"), "tool.ts");
    const localDir = copyProject(base, fixtureA, "local");
    npmCiThenNode(localDir, warmNpmCache);
    const viaLocal = join(localDir, "tool.ts");
    for (let i = 0; i < 3; i++) {
      tsexec(viaStore, warmCache, warmNpmCache);
      tsexec(viaLocal, warmCache, warmNpmCache);
    }
    const warmRounds = quick ? 10 : 30;
    const warmStore = [];
    const warmLocal = [];
    for (let i = 0; i < warmRounds; i++) {
      const a = () => warmStore.push(timed(() => tsexec(viaStore, warmCache, warmNpmCache)));
      const b = () => warmLocal.push(timed(() => tsexec(viaLocal, warmCache, warmNpmCache)));
      if (i % 2) (a(), b());
      else (b(), a());
    }

    // Sharing: the store after lock A alone, then after lock B too (27 of 30 packages in common).
    const shareCache = fresh("cache");
    tsexec(join(copyProject(base, fixtureA, "share-a"), "tool.ts"), shareCache, warmNpmCache);
    const one = diskUsage(join(shareCache, "npm"));
    tsexec(join(copyProject(base, fixtureB, "share-b"), "tool.ts"), shareCache, warmNpmCache);
    const both = diskUsage(join(shareCache, "npm"));
    const nodeModules = diskUsage(join(localDir, "node_modules"));

    const row = (label, ms, peer, target) => [label, ms.toFixed(0), peer.toFixed(0), out.target(label, ms / peer, target)];
    out.table(`npm: a tool with 30 locked packages, tsexec (nothing installed) vs npm ci --omit=dev --ignore-scripts + node (medians)`, ["case", "tsexec ms", "npm ci + node ms", "ratio"], [
      row(`cold, npm's cache warm (${rounds} rounds)`, median(coldTsexec), median(coldNpm), { op: "<=", value: 0.5 }),
      row(`cold, npm's cache empty (${emptyRounds} rounds, registry downloads)`, median(emptyTsexec), median(emptyNpm), { op: "<=", value: 1.0 }),
    ]);
    out.table(`npm: warm runs of the same tool (${warmRounds} paired runs, medians)`, ["case", "ms", "vs local node_modules"], [
      ["tsexec tool.ts, node_modules installed beside it", median(warmLocal).toFixed(1), "1.00x"],
      ["tsexec tool.ts, packages from the store", median(warmStore).toFixed(1), out.target("warm from the store vs local node_modules", median(warmStore) / median(warmLocal), { op: "<=", value: 1.05 })],
    ]);
    const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
    out.table("npm: disk used by the store (inodes counted once)", ["case", "disk", "vs one lock"], [
      ["one lock (30 packages: store + tree)", kib(one), "1.00x"],
      ["two locks sharing 27 of 30 packages (ini, dotenv, semver differ)", kib(both), out.target("two locks sharing 90% vs one", both / one, { op: "<=", value: 1.2 })],
      ["for scale: one node_modules from npm ci", kib(nodeModules), `${(nodeModules / one).toFixed(2)}x`],
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
