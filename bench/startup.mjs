// Start-up cost of `tsexec examples/hello.ts a b` against `node hello.mjs`
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
import { existsSync } from "node:fs";
import { join } from "node:path";
import { benchRoot, formatMs, interleave, median, projectRoot, quantile, removeDir, tempDir } from "./lib/measure.mjs";

const node = process.execPath;

export async function run(report) {
  const rounds = report.quick ? 8 : 30;
  const launcher = join(projectRoot, "shebang", "tsexec");
  if (!existsSync(join(projectRoot, "dist", "cli.js"))) throw new Error("dist/cli.js is missing: run `npm run build` first");
  const tsxCli = join(benchRoot, "node_modules", "tsx", "dist", "cli.mjs");
  const warmCache = tempDir("tsexec-bench-warm-");
  const variants = [
    { name: "node", label: "node bench/fixtures/hello.mjs a b", command: node, args: ["bench/fixtures/hello.mjs", "a", "b"] },
    {
      name: "warm",
      label: "tsexec examples/hello.ts a b (warm cache)",
      command: node,
      args: [launcher, "examples/hello.ts", "a", "b"],
      env: { TSEXEC_CACHE_DIR: warmCache },
    },
    {
      name: "cold",
      label: "tsexec examples/hello.ts a b (fresh cache)",
      command: node,
      args: [launcher, "examples/hello.ts", "a", "b"],
      prepare: () => ({ env: { TSEXEC_CACHE_DIR: tempDir("tsexec-bench-cold-") } }),
      cleanup: (override) => override && removeDir(override.env.TSEXEC_CACHE_DIR),
    },
    { name: "tsx", label: "tsx bench/fixtures/hello.ts a b", command: node, args: [tsxCli, "bench/fixtures/hello.ts", "a", "b"] },
  ];
  let samples;
  try {
    samples = interleave(variants, { rounds, warmup: 3 });
  } finally {
    removeDir(warmCache);
  }

  const medians = Object.fromEntries(variants.map((v) => [v.name, median(samples[v.name])]));
  const pairedRatio = (a, b) => median(samples[a].map((ms, i) => ms / samples[b][i]));
  report.table(
    `start-up, ${rounds} interleaved rounds after 3 warm-up rounds (wall time, spawn to exit)`,
    ["variant", "median", "p10", "p90", "vs node"],
    variants.map((v) => [
      v.label,
      formatMs(medians[v.name]),
      formatMs(quantile(samples[v.name], 0.1)),
      formatMs(quantile(samples[v.name], 0.9)),
      `${pairedRatio(v.name, "node").toFixed(2)}x`,
    ]),
  );
  report.table(
    "start-up ratios (median of per-round ratios)",
    ["ratio", "measured"],
    [
      ["warm tsexec / node", report.target("start-up warm / node", pairedRatio("warm", "node"), { op: "<=", value: 1.15 })],
      ["cold tsexec / node", report.target("start-up cold / node", pairedRatio("cold", "node"), { op: "<=", value: 1.6 })],
      ["tsx / warm tsexec", report.target("start-up tsx / warm", pairedRatio("tsx", "warm"), { op: ">=", value: 3 })],
    ],
  );
  report.note(
    `overhead over node: warm +${formatMs(medians.warm - medians.node)}, cold +${formatMs(medians.cold - medians.node)} ` +
      `(the fixture for tsx is bench/fixtures/hello.ts: the same printing, no tsexec wrapper)`,
  );
}
