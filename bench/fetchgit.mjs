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

  let nix = "nix not installed: skipped";
  try {
    execFileSync("nix", ["--version"], { stdio: "ignore" });
    nix = "nix is installed, but this benchmark does not time it yet";
  } catch {
    // No nix on this machine: the row says so.
  }

  const coldMedian = median(cold);
  const plainMedian = median(plain);
  const ratio = coldMedian / plainMedian;
  out.table(`fetchgit: pinned commit of a 1000-commit repository over file:// (${rounds} paired rounds, medians)`, ["case", "ms", "vs plain git"], [
    ["plain git init + fetch --depth 1 + checkout", plainMedian.toFixed(1), "1.00x"],
    ["tsexec fetchgit, cold (new cache)", coldMedian.toFixed(1), out.target("fetchgit cold vs plain git", ratio, { op: "<=", value: 1.5 })],
    ["tsexec fetchgit, warm (in-process, per call)", warm.toFixed(3), warm < 2 ? "< 2 ms: ok" : "< 2 ms: MISSED"],
    ["nix builtins.fetchGit", nix, ""],
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
