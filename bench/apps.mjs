// Plain Node programs as apps (issue 18): a CLI whose package-lock.json holds 30 real packages
// (bench/fixtures/npm-tool's lock, its tool.mjs as the package's bin), committed to a git
// repository and run by app name, whole processes (spawn to exit):
//
//   warm: tsexec git+file://…?rev=<commit>#npm-tool (view and tree in the store)
//         vs node <bin> on an installed clone of the same commit             target <= 1.2x
//   cold: tsexec's first run into an empty cache (npm's cache warm)
//         vs git clone + npm ci --omit=dev + the first node <bin>            target <= 0.7x
//
//   npm:  tsexec npm:semver@7.6.3 warm vs npx semver@7.6.3 warm (for information)
//
// npx git+file://…#<commit>, pnpm dlx and bunx are not measured here (see the README's table).
// Uses the registry in the user's npm config (the real one by default), as bench/npm.mjs does.
// Run alone: node bench/apps.mjs [--quick] (after npm run build).
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { caCerts, git, output, removeAll, strippedEnv } from "./lib/git-fixture.mjs";
import { interleave, median, pairedRatio, projectRoot, spreadCells, tempDir } from "./lib/measure.mjs";

const node = process.execPath;
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const fixture = join(projectRoot, "bench", "fixtures", "npm-tool");

export async function run(report) {
  const out = output(report);
  const quick = out.quick || process.argv.includes("--quick");
  const launcher = join(projectRoot, "shebang", "tsexec");
  const base = tempDir("tsexec-bench-apps-");
  const temporaries = [base];
  const fresh = (prefix) => {
    const dir = tempDir(prefix);
    temporaries.push(dir);
    return dir;
  };
  try {
    // The repository: the fixture's package.json with a bin, its lock, and tool.mjs as the bin.
    const work = join(base, "work");
    git(base, "init", "-q", "-b", "main", work);
    const manifest = JSON.parse(readFileSync(join(fixture, "package.json"), "utf8"));
    writeFileSync(join(work, "package.json"), `${JSON.stringify({ ...manifest, bin: { "npm-tool": "tool.mjs" } }, null, 2)}\n`);
    copyFileSync(join(fixture, "package-lock.json"), join(work, "package-lock.json"));
    writeFileSync(join(work, "tool.mjs"), `#!/usr/bin/env node\n${readFileSync(join(fixture, "tool.mjs"), "utf8")}`);
    git(work, "add", "-A");
    git(work, "-c", "user.name=Bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "tool");
    const commit = git(work, "rev-parse", "HEAD");
    const bare = join(base, "tool.git");
    git(base, "clone", "-q", "--bare", work, bare);
    const reference = `git+${pathToFileURL(bare).href}?rev=${commit}#npm-tool`;

    // npm's cache, warm: one clone + npm ci fills it; that clone is the installed clone node runs.
    const npmCache = fresh("tsexec-bench-apps-npm-");
    const npmEnv = { ...strippedEnv, npm_config_cache: npmCache };
    const cloneAndInstall = (dir) => {
      execFileSync("git", ["clone", "-q", bare, dir], { stdio: "ignore" });
      execFileSync("git", ["-C", dir, "checkout", "-q", commit], { stdio: "ignore" });
      execFileSync(npm, ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, env: { ...process.env, npm_config_cache: npmCache }, stdio: "ignore" });
    };
    const clone = join(base, "clone");
    cloneAndInstall(clone);

    const warmCache = fresh("tsexec-bench-apps-cache-");
    const warm = [
      { name: "tsexec", label: `tsexec <ref>#npm-tool (warm)`, command: node, args: [launcher, reference, "x"], env: { ...npmEnv, TSEXEC_CACHE_DIR: warmCache } },
      { name: "node", label: "node tool.mjs on an installed clone", command: node, args: [join(clone, "tool.mjs"), "x"], env: npmEnv },
    ];
    const rounds = quick ? 8 : 20;
    const warmSamples = interleave(warm, { rounds, warmup: 2 });

    let n = 0;
    const cold = [
      {
        name: "tsexec",
        label: "tsexec <ref>#npm-tool, empty tsexec cache",
        command: node,
        args: [launcher, reference, "x"],
        env: npmEnv,
        prepare: () => ({ env: { TSEXEC_CACHE_DIR: fresh("tsexec-bench-apps-cold-") } }),
      },
      {
        name: "npm",
        label: "git clone + npm ci --omit=dev + node tool.mjs",
        command: "sh",
        args: [],
        // npm may need the CA bundle to reach the registry: this variant keeps the environment as it is.
        env: { npm_config_cache: npmCache },
        prepare: () => {
          const dir = join(base, `clone-${n++}`);
          const script = `git clone -q "$1" "$2" && git -C "$2" checkout -q "$3" && cd "$2" && ${npm} ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null && node tool.mjs x >/dev/null`;
          return { args: ["-c", script, "sh", bare, dir, commit] };
        },
      },
    ];
    const coldRounds = quick ? 2 : 5;
    const coldSamples = interleave(cold, { rounds: coldRounds, warmup: 0 });

    out.table(
      `plain-program apps, whole processes (warm ${rounds}, cold ${coldRounds} interleaved rounds)`,
      ["case", "median", "p10", "p90"],
      [...warm.map((v) => [v.label, ...spreadCells(warmSamples[v.name])]), ...cold.map((v) => [v.label, ...spreadCells(coldSamples[v.name])])],
    );
    out.table("app ratios (median of per-round ratios)", ["ratio", "measured"], [
      ["warm tsexec <ref>#app / node <bin> on an installed clone", out.target("warm app vs node on an installed clone", pairedRatio(warmSamples, "tsexec", "node"), { op: "<=", value: 1.2 })],
      ["cold tsexec <ref>#app / git clone + npm ci --omit=dev + node", out.target("cold app vs clone + npm ci + node", pairedRatio(coldSamples, "tsexec", "npm"), { op: "<=", value: 0.7 })],
      ["warm difference (ms)", `${(median(warmSamples.tsexec) - median(warmSamples.node)).toFixed(1)}`],
    ]);

    // npm:NAME: a small published CLI (semver's bin) from the registry, against npx (pnpm dlx and bunx are not installed here).
    const npxEnv = { npm_config_cache: npmCache, npm_config_yes: "true" };
    const pkgCache = fresh("tsexec-bench-apps-npm-cache-");
    const published = [
      { name: "tsexec", label: "tsexec npm:semver@7.6.3 1.2.3 (warm)", command: node, args: [launcher, "npm:semver@7.6.3", "1.2.3"], env: { ...strippedEnv, npm_config_cache: npmCache, TSEXEC_CACHE_DIR: pkgCache } },
      { name: "npx", label: "npx semver@7.6.3 1.2.3 (warm)", command: npm === "npm" ? "npx" : "npx.cmd", args: ["semver@7.6.3", "1.2.3"], env: npxEnv },
    ];
    const publishedSamples = interleave(published, { rounds: quick ? 6 : 15, warmup: 2 });
    out.table("npm:NAME, whole processes (npm's own config and registry)", ["case", "median", "p10", "p90"], published.map((v) => [v.label, ...spreadCells(publishedSamples[v.name])]));
    out.table("npm:NAME ratio (median of per-round ratios)", ["ratio", "measured"], [
      ["warm tsexec npm:semver@7.6.3 / npx semver@7.6.3 (for information; the issue's peer is pnpm dlx)", `${pairedRatio(publishedSamples, "tsexec", "npx").toFixed(2)}x`],
    ]);
    if (caCerts) out.note("NODE_EXTRA_CA_CERTS is set here: the measured tsexec commands ran without it (npx keeps it: it may need it for the registry).");
  } finally {
    removeAll(temporaries);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
