// fetchgit benchmark: a cold fetch of a pinned commit of a 1000-commit repository,
// side by side with plain `git init; git fetch --depth 1 <url> <hash>; git checkout`,
// and a warm fetch (already checked out) in-process. Run alone: node bench/fetchgit.mjs
// (after npm run build). Target: cold <= 1.5x plain git, warm < 2 ms.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { manyCommitRepository, median, output, removeAll } from "./lib/git-fixture.mjs";

const root = new URL("..", import.meta.url).pathname;

function plainGit(url, hash) {
  const dir = mkdtempSync(join(tmpdir(), "tsexec-bench-plain-"));
  const started = performance.now();
  const opts = { cwd: dir, stdio: "ignore", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } };
  execFileSync("git", ["init", "-q"], opts);
  execFileSync("git", ["fetch", "-q", "--depth", "1", url, hash], opts);
  execFileSync("git", ["checkout", "-q", hash], opts);
  const ms = performance.now() - started;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

/**
 * `builtins.fetchGit` of the same URL and rev through `nix eval`, where nix is installed: cold with
 * a new XDG_CACHE_HOME per round (nix's git cache; its store may still hold the output), warm with
 * one. Each figure includes starting nix. (Not exercised on machines without nix.)
 */
function timeNix(url, rev, rounds) {
  try {
    execFileSync("nix", ["--version"], { stdio: "ignore" });
  } catch {
    return [["nix builtins.fetchGit", "nix not installed: skipped", ""]];
  }
  const expr = `(builtins.fetchGit { url = ${JSON.stringify(url)}; rev = ${JSON.stringify(rev)}; }).outPath`;
  const once = (cacheHome) => {
    const started = performance.now();
    execFileSync("nix", ["--extra-experimental-features", "nix-command", "eval", "--impure", "--raw", "--expr", expr], {
      env: { ...process.env, XDG_CACHE_HOME: cacheHome },
      stdio: "ignore",
    });
    return performance.now() - started;
  };
  const homes = [];
  const home = () => {
    const dir = mkdtempSync(join(tmpdir(), "tsexec-bench-nix-"));
    homes.push(dir);
    return dir;
  };
  const cold = Array.from({ length: rounds }, () => once(home()));
  const warmHome = home();
  once(warmHome);
  const warm = Array.from({ length: rounds }, () => once(warmHome));
  removeAll(homes);
  return [
    ["nix eval builtins.fetchGit, cold (new git cache)", median(cold).toFixed(1), ""],
    ["nix eval builtins.fetchGit, warm (process per call)", median(warm).toFixed(1), ""],
  ];
}

export async function run(report) {
  const out = output(report);
  const { makeLib, run: runIO } = await import(pathToFileURL(join(root, "dist", "index.js")).href);
  const { root: fixtureRoot, bare, head } = manyCommitRepository(1000);
  const temporaries = [fixtureRoot];
  const newCache = () => {
    const dir = mkdtempSync(join(tmpdir(), "tsexec-bench-cache-"));
    temporaries.push(dir);
    return dir;
  };
  const url = pathToFileURL(bare).href;
  const lib = makeLib({ dir: process.cwd() });
  const fetch = (cacheDir) => runIO(lib.builtins.fetchgit({ url, rev: head, cacheDir }), { cacheDir });

  // Warm-up: loads simple-git and lets the OS cache the repository.
  await fetch(newCache());
  plainGit(url, head);

  const rounds = out.quick ? 5 : 15;
  const cold = [];
  const plain = [];
  for (let i = 0; i < rounds; i++) {
    const cacheDir = newCache();
    const started = performance.now();
    await fetch(cacheDir);
    cold.push(performance.now() - started);
    plain.push(plainGit(url, head));
  }

  const warmCache = newCache();
  await fetch(warmCache);
  const warmRuns = out.quick ? 200 : 2000;
  const warmStarted = performance.now();
  for (let i = 0; i < warmRuns; i++) await fetch(warmCache);
  const warm = (performance.now() - warmStarted) / warmRuns;

  removeAll(temporaries);

  const nixRows = timeNix(url, head, rounds);

  const coldMedian = median(cold);
  const plainMedian = median(plain);
  const ratio = coldMedian / plainMedian;
  out.table(`fetchgit: pinned commit of a 1000-commit repository over file:// (${rounds} paired rounds, medians)`, ["case", "ms", "vs plain git"], [
    ["plain git init + fetch --depth 1 + checkout", plainMedian.toFixed(1), "1.00x"],
    ["tsexec fetchgit, cold (new cache)", coldMedian.toFixed(1), out.target("fetchgit cold vs plain git", ratio, { op: "<=", value: 1.5 })],
    ["tsexec fetchgit, warm (in-process, per call)", warm.toFixed(3), warm < 2 ? "< 2 ms: ok" : "< 2 ms: MISSED"],
    ...nixRows,
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
