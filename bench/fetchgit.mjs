// fetchgit as a user pays for it: whole `tsexec` processes (spawn to exit),
// interleaved rounds (lib/measure.mjs), never a warmed-up process.
//   cold:    a pinned commit of a 1000-commit repository into a fresh git
//            cache (git fetch + archive + extraction), against plain
//            `git init; git fetch --depth 1 <url> <hash>; git checkout`.
//            The fresh cache directory gets the warm cache's transpiled
//            scripts (scripts/, manifests pointed at the new place), so
//            "fetch work" (cold - local) is git, extraction and fetchgit's
//            own logic, not transpiling fetch.ts (start-up, not fetching)
//   cold-whole: the same into an empty cache directory, transpile included
//            (the whole-process figure, for information)
//   warm:    the same pinned commit, already checked out (one stat, no git)
//   moving:  rev "main" with the checkout cached (fetchgit asks the remote
//            every time: one git fetch, no archive)
//   local:   the same script not calling fetchgit (what the warm path adds)
// NODE_EXTRA_CA_CERTS policy: see lib/git-fixture.mjs (the same in every bench).
// Run alone: node bench/fetchgit.mjs (after npm run build).
// Targets: cold's fetch work (cold - local) <= 1.5x plain git; warm <= 1.1x local.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { caCerts, manyCommitRepository, output, removeAll, strippedEnv } from "./lib/git-fixture.mjs";
import { formatMs, interleave, median, pairedRatio, projectRoot, spreadCells, tempDir } from "./lib/measure.mjs";

const node = process.execPath;

/**
 * `builtins.fetchGit` of the same URL and rev through `nix eval`, where nix is installed: cold with
 * a new XDG_CACHE_HOME per round (nix's git cache; its store may still hold the output), warm with
 * one. Each figure includes starting nix. (Not exercised on machines without nix.)
 */
function nixVariants(url, rev, temporaries) {
  try {
    execFileSync("nix", ["--version"], { stdio: "ignore" });
  } catch {
    return [];
  }
  const expr = `(builtins.fetchGit { url = ${JSON.stringify(url)}; rev = ${JSON.stringify(rev)}; }).outPath`;
  const args = ["--extra-experimental-features", "nix-command", "eval", "--impure", "--raw", "--expr", expr];
  const warmHome = tempDir("tsexec-bench-nix-");
  temporaries.push(warmHome);
  return [
    {
      name: "nix-cold",
      label: "nix eval builtins.fetchGit, cold (new git cache)",
      command: "nix",
      args,
      prepare: () => {
        const home = tempDir("tsexec-bench-nix-");
        temporaries.push(home);
        return { env: { XDG_CACHE_HOME: home } };
      },
    },
    { name: "nix-warm", label: "nix eval builtins.fetchGit, warm", command: "nix", args, env: { XDG_CACHE_HOME: warmHome } },
  ];
}

export async function run(report) {
  const out = output(report);
  const launcher = join(projectRoot, "shebang", "tsexec");
  const { root: fixtureRoot, bare, head } = manyCommitRepository(1000);
  const temporaries = [fixtureRoot];
  const fresh = (prefix) => {
    const dir = tempDir(prefix);
    temporaries.push(dir);
    return dir;
  };
  const url = pathToFileURL(bare).href;
  const scripts = fresh("tsexec-bench-fetchgit-scripts-");
  const fetchScript = join(scripts, "fetch.ts");
  const localScript = join(scripts, "local.ts");
  writeFileSync(fetchScript, `export default ({ args, lib }: any) => lib.map(console.log, lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n`);
  writeFileSync(localScript, `export default ({ args, lib }: any) => lib.map(console.log, lib.unit(args[1] + args[2]));\n`);
  const warmCache = fresh("tsexec-bench-fetchgit-warm-");
  const tsexec = (script, rev, env) => ({ command: node, args: [launcher, script, url, rev], env: { ...strippedEnv, TSEXEC_CACHE_DIR: warmCache, ...env } });
  // The warm cache: fetch.ts transpiled and its commit checked out, before any round.
  execFileSync(node, [launcher, fetchScript, url, head], { env: { ...process.env, ...strippedEnv, TSEXEC_CACHE_DIR: warmCache }, stdio: "ignore" });
  // A fresh cache that already has the scripts' transpiled output: the warm cache's scripts/, its paths moved.
  const freshWithScripts = () => {
    const dir = fresh("tsexec-bench-cold-");
    const from = join(warmCache, "scripts");
    mkdirSync(join(dir, "scripts"));
    for (const name of readdirSync(from)) {
      writeFileSync(join(dir, "scripts", name), readFileSync(join(from, name), "utf8").replaceAll(`${warmCache}/`, `${dir}/`));
    }
    return { env: { TSEXEC_CACHE_DIR: dir } };
  };
  const gitEnv = { ...strippedEnv, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };

  const variants = [
    {
      name: "git",
      label: "plain git init + fetch --depth 1 + checkout",
      command: "sh",
      args: ["-c", `git init -q "$D" && git -C "$D" fetch -q --depth 1 "$U" "$H" && git -C "$D" checkout -q "$H"`],
      env: { ...gitEnv, U: url, H: head },
      prepare: () => ({ env: { D: join(fresh("tsexec-bench-plain-"), "work") } }),
    },
    { name: "cold", label: "tsexec fetch.ts <url> <hash>, fresh git cache", ...tsexec(fetchScript, head), prepare: freshWithScripts },
    { name: "cold-whole", label: "tsexec fetch.ts <url> <hash>, empty cache (transpiles too)", ...tsexec(fetchScript, head), prepare: () => ({ env: { TSEXEC_CACHE_DIR: fresh("tsexec-bench-cold-") } }) },
    { name: "warm", label: "tsexec fetch.ts <url> <hash>, checked out", ...tsexec(fetchScript, head) },
    { name: "moving", label: "tsexec fetch.ts <url> main, checked out (asks the remote)", ...tsexec(fetchScript, "main") },
    { name: "local", label: "tsexec local.ts (same script, no fetchgit)", ...tsexec(localScript, head) },
    ...nixVariants(url, head, temporaries),
  ];
  if (caCerts) {
    variants.push(
      { name: "cold-ca", label: "cold, NODE_EXTRA_CA_CERTS kept", ...tsexec(fetchScript, head, { NODE_EXTRA_CA_CERTS: caCerts }), prepare: freshWithScripts },
      { name: "warm-ca", label: "warm, NODE_EXTRA_CA_CERTS kept", ...tsexec(fetchScript, head, { NODE_EXTRA_CA_CERTS: caCerts }) },
      { name: "local-ca", label: "local, NODE_EXTRA_CA_CERTS kept", ...tsexec(localScript, head, { NODE_EXTRA_CA_CERTS: caCerts }) },
    );
  }
  const rounds = out.quick ? 6 : 20;
  let samples;
  try {
    samples = interleave(variants, { rounds, warmup: 2 });
  } finally {
    removeAll(temporaries);
  }
  const paired = (a, b) => pairedRatio(samples, a, b);
  out.table(
    `fetchgit, whole tsexec processes: pinned commit of a 1000-commit repository over file:// (${rounds} interleaved rounds)`,
    ["case", "median", "p10", "p90"],
    variants.map((v) => [v.label, ...spreadCells(samples[v.name])]),
  );
  // A tsexec process also starts node and runs a script: the fetch's own work is cold minus local, in the same round.
  const fetchWork = median(samples.cold.map((ms, i) => (ms - samples.local[i]) / samples.git[i]));
  const ratios = [
    ["cold fetch work (cold - local, per round) / plain git", out.target("fetchgit cold work vs plain git", fetchWork, { op: "<=", value: 1.5 })],
    ["cold whole process / plain git (for information)", `${paired("cold", "git").toFixed(2)}x`],
    ["cold into an empty cache, transpile included: (cold-whole - local) / plain git (for information)", `${median(samples["cold-whole"].map((ms, i) => (ms - samples.local[i]) / samples.git[i])).toFixed(2)}x`],
    ["warm (cached pinned) / local script", out.target("fetchgit warm vs local script", paired("warm", "local"), { op: "<=", value: 1.1 })],
    ["moving rev (one git fetch) / local script (for information)", `${paired("moving", "local").toFixed(2)}x`],
  ];
  if (caCerts) ratios.push(["warm / local, NODE_EXTRA_CA_CERTS kept (for information)", `${paired("warm-ca", "local-ca").toFixed(2)}x`]);
  out.table("fetchgit ratios (median of per-round ratios)", ["ratio", "measured"], ratios);
  out.note(`what a user pays: cold +${formatMs(median(samples.cold) - median(samples.local))}, moving rev +${formatMs(median(samples.moving) - median(samples.local))}, warm pinned +${formatMs(median(samples.warm) - median(samples.local))} over the same script without fetchgit`);
  if (caCerts) out.note("NODE_EXTRA_CA_CERTS is set here: the measured commands ran without it; the *-ca rows ran with it.");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
