// Start-up cost of `tsexec examples/hello.ts a b`, of a shebang script and of `npx tsexec`
// (the ways tsexec init names) against `node hello.mjs`
// (the same program as plain JavaScript) and against tsx.
//
// Variants run interleaved in rounds (see lib/measure.mjs); each ratio is the
// median of the per-round ratios, so both sides of a ratio ran back to back.
//   warm:  a cache that already holds the transpiled script
//   cold:  a fresh TSEXEC_CACHE_DIR on every run (the first run of a never-seen
//          script: it loads the transpiler and writes the cache)
//   tsx:   tsx bench/fixtures/hello.ts a b (tsx cannot run examples/hello.ts's
//          IO wrapper: the fixture does the same printing as plain TypeScript);
//          tsx keeps its own transform cache, warm after the warm-up rounds
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { benchRoot, formatMs, interleave, median, pairedRatio, projectRoot, quantile, removeDir, tempDir, withEnv } from "./lib/measure.mjs";

const node = process.execPath;

/**
 * NODE_EXTRA_CA_CERTS makes every node process load a CA bundle before V8
 * starts (about 35 ms on the sandboxed machines, more than Node's own
 * start-up): the same constant on both sides of a ratio, which would hide
 * tsexec's own cost. The measured commands run without it; when it is set,
 * two extra variants show the ratio with the environment as it is.
 */
const strippedEnv = { NODE_EXTRA_CA_CERTS: undefined };

export async function run(report) {
  const rounds = report.quick ? 8 : 30;
  const launcher = join(projectRoot, "shebang", "tsexec");
  if (!existsSync(join(projectRoot, "dist", "index.js"))) throw new Error(`${projectRoot}dist/index.js is missing: run \`npm run build\` first`);
  const tsxCli = join(benchRoot, "node_modules", "tsx", "dist", "cli.mjs");
  const warmCache = tempDir("tsexec-bench-warm-");
  const nodeHello = [join(benchRoot, "fixtures", "hello.mjs"), "a", "b"];
  const shebangDir = tempDir("tsexec-bench-shebang-");
  const shebangScript = join(shebangDir, "shebang-hello.ts");
  copyFileSync(join(projectRoot, "examples", "shebang-hello.ts"), shebangScript);
  chmodSync(shebangScript, 0o755);
  const tsexecHello = [launcher, "examples/hello.ts", "a", "b"];
  const variants = [
    { name: "node", label: "node bench/fixtures/hello.mjs a b", command: node, args: nodeHello, env: strippedEnv },
    {
      name: "warm",
      label: "tsexec examples/hello.ts a b (warm cache)",
      command: node,
      args: tsexecHello,
      env: { ...strippedEnv, TSEXEC_CACHE_DIR: warmCache },
    },
    {
      name: "cold",
      label: "tsexec examples/hello.ts a b (fresh cache)",
      command: node,
      args: tsexecHello,
      env: strippedEnv,
      prepare: () => ({ env: { TSEXEC_CACHE_DIR: tempDir("tsexec-bench-cold-") } }),
      cleanup: (override) => override && removeDir(override.env.TSEXEC_CACHE_DIR),
    },
    {
      // What a shebang script costs (`./main.ts`, as tsexec init's project runs with tsexec on PATH):
      // env finds shebang/tsexec on PATH.
      name: "shebang",
      label: "./shebang-hello.ts a b (#!/usr/bin/env tsexec, warm cache)",
      command: shebangScript,
      args: ["a", "b"],
      env: { ...strippedEnv, TSEXEC_CACHE_DIR: warmCache, PATH: `${join(projectRoot, "shebang")}:${process.env.PATH}` },
    },
    { name: "tsx", label: "tsx bench/fixtures/hello.ts a b", command: node, args: [tsxCli, join(benchRoot, "fixtures", "hello.ts"), "a", "b"], env: strippedEnv },
  ];
  // TSEXEC_BENCH_NPX=1: also the other way tsexec init names, npx (it finds the project's own
  // tsexec; npx's own start-up, seconds of CPU here, is npm's, so it is left out by default).
  const withNpx = process.env.TSEXEC_BENCH_NPX === "1";
  if (withNpx) {
    variants.push({
      name: "npx",
      label: "npx tsexec examples/hello.ts a b (warm cache)",
      command: "npx",
      args: ["--no-install", "tsexec", "examples/hello.ts", "a", "b"],
      env: { ...strippedEnv, TSEXEC_CACHE_DIR: warmCache },
    });
  }
  // TSEXEC_BENCH_ALSO=dir1,dir2: the warm run of other built checkouts, in the same rounds (A/B of a change).
  const others = (process.env.TSEXEC_BENCH_ALSO ?? "").split(",").filter(Boolean);
  const otherCaches = others.map(() => tempDir("tsexec-bench-warm-"));
  others.forEach((dir, i) => {
    if (!existsSync(join(dir, "dist", "index.js"))) throw new Error(`TSEXEC_BENCH_ALSO: ${dir}/dist/index.js is missing: build that checkout first`);
    variants.push({
      name: `also-${i}`,
      label: `tsexec warm, checkout ${dir}`,
      command: node,
      args: [join(dir, "shebang", "tsexec"), "examples/hello.ts", "a", "b"],
      cwd: dir,
      env: { ...strippedEnv, TSEXEC_CACHE_DIR: otherCaches[i] },
    });
  });
  const caCerts = process.env.NODE_EXTRA_CA_CERTS;
  if (caCerts) {
    variants.push(
      { name: "node-ca", label: "node hello.mjs, NODE_EXTRA_CA_CERTS kept", command: node, args: nodeHello },
      { name: "warm-ca", label: "tsexec warm, NODE_EXTRA_CA_CERTS kept", command: node, args: tsexecHello, env: { TSEXEC_CACHE_DIR: warmCache } },
    );
  }
  let samples;
  let warmModules;
  let warmCollections;
  try {
    samples = interleave(variants, { rounds, warmup: 3 });
    warmModules = modulesLoaded(tsexecHello, { ...strippedEnv, TSEXEC_CACHE_DIR: warmCache }, warmCache);
    warmCollections = collectionsIn(tsexecHello, { ...strippedEnv, TSEXEC_CACHE_DIR: warmCache });
  } finally {
    removeDir(warmCache);
    removeDir(shebangDir);
    otherCaches.forEach(removeDir);
  }

  const medians = Object.fromEntries(variants.map((v) => [v.name, median(samples[v.name])]));
  const ratio = (a, b) => pairedRatio(samples, a, b);
  report.table(
    `start-up, ${rounds} interleaved rounds after 3 warm-up rounds (wall time, spawn to exit)`,
    ["variant", "median", "p10", "p90", "vs node"],
    variants.map((v) => [
      v.label,
      formatMs(medians[v.name]),
      formatMs(quantile(samples[v.name], 0.1)),
      formatMs(quantile(samples[v.name], 0.9)),
      `${ratio(v.name, v.name.endsWith("-ca") ? "node-ca" : "node").toFixed(2)}x`,
    ]),
  );
  const ratios = [
    ["warm tsexec / node", report.target("start-up warm / node", ratio("warm", "node"), { op: "<=", value: 1.1 })],
    ["warm shebang script / node", report.target("start-up shebang / node", ratio("shebang", "node"), { op: "<=", value: 1.1 })],
    ["cold tsexec / node", report.target("start-up cold / node", ratio("cold", "node"), { op: "<=", value: 1.6 })],
    ["tsx / warm tsexec", report.target("start-up tsx / warm", ratio("tsx", "warm"), { op: ">=", value: 3 })],
  ];
  if (withNpx) ratios.push(["warm npx tsexec / node", report.target("start-up npx tsexec / node", ratio("npx", "node"), { op: "<=", value: 1.1 })]);
  if (caCerts) ratios.push(["warm tsexec / node, NODE_EXTRA_CA_CERTS kept (for information)", `${ratio("warm-ca", "node-ca").toFixed(2)}x`]);
  report.table("start-up ratios (median of per-round ratios)", ["ratio", "measured"], ratios);
  report.note(`overhead over node: warm +${formatMs(medians.warm - medians.node)}, cold +${formatMs(medians.cold - medians.node)}`);
  report.note(
    `garbage collections in one warm run: ${warmCollections} (node hello.mjs: ${collectionsIn(nodeHello, strippedEnv)}); each costs about 1 ms, ` +
      "so what the warm path allocates matters (scripts/build.mjs keeps the core small)",
  );
  report.note("tsx runs bench/fixtures/hello.ts: the same printing as examples/hello.ts without tsexec's IO wrapper, which tsx cannot run.");
  report.table(
    `ES modules the warm path loads (node hello.mjs loads 1): ${warmModules.filter((m) => m.format !== "builtin").length} files, ` +
      `${(warmModules.reduce((sum, m) => sum + m.size, 0) / 1024).toFixed(1)} KiB`,
    ["module", "format", "bytes"],
    warmModules.map((m) => [m.name, m.format, m.format === "builtin" ? "-" : String(m.size)]),
  );
  if (caCerts) report.note("NODE_EXTRA_CA_CERTS is set here: the measured commands ran without it (it adds a constant CA-bundle load to every node start).");
}

/** How many times V8 collects garbage in one run of `node args` (its --trace-gc lines). */
function collectionsIn(args, env) {
  const result = spawnSync(node, ["--trace-gc", ...args], { cwd: projectRoot, env: withEnv(env), encoding: "utf8" });
  if (result.status !== 0) throw new Error(`node --trace-gc ${args.join(" ")} failed:\n${result.stderr}`);
  return (result.stdout.match(/^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: (Scavenge|Mark-Compact|Minor Mark-Compact)/gm) ?? []).length;
}

/** The ES modules (files and node: builtins) one run of `node args` loads, in load order. */
function modulesLoaded(args, env, cacheDir) {
  const hooks = join(benchRoot, "lib", "module-log.mjs");
  const result = spawnSync(node, ["--import", hooks, ...args], { cwd: projectRoot, env: withEnv(env), encoding: "utf8" });
  if (result.status !== 0) throw new Error(`node --import ${hooks} ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stderr
    .split("\n")
    .filter((line) => line.startsWith("bench-module-load "))
    .map((line) => {
      const [, format, size, url] = line.split(" ");
      return { format, size: Number(size), name: shortName(url, cacheDir) };
    });
}

function shortName(url, cacheDir) {
  if (!url.startsWith("file:")) return url;
  const path = fileURLToPath(url);
  if (path.startsWith(cacheDir)) return `<cache>/${relative(cacheDir, path)}`;
  return relative(projectRoot, path);
}
