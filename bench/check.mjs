// `tsexec check` against `deno check` on the same scripts, side by side, with
// both of tsexec's checkers: TypeScript's native port (tsgo, from
// @typescript/native-preview, tsexec's optional dependency) and TypeScript's
// own API (tsc, in process). deno is a peer: bench/package.json.
//
// The scripts: examples/hello.ts, examples/word-count.ts (fp-ts), and a
// generated module of typed helpers (a few hundred lines), all importing
// tsexec. They live in a temporary project whose node_modules holds real
// copies of tsexec's types (and fp-ts, linked), so deno resolves them as npm packages
// (a symlink out of node_modules makes deno read them as local files).
// Every checker must pass them (exit 0): a failing check never reports a time.
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { benchRoot, interleave, median, pairedRatio, projectRoot, removeDir, spreadCells, tempDir } from "./lib/measure.mjs";

const node = process.execPath;

export async function run(report) {
  const rounds = report.quick ? 3 : 10;
  const deno = join(benchRoot, "node_modules", "deno", "bin.cjs");
  if (!existsSync(deno)) throw new Error(`${deno} is missing: npm install --prefix bench`);
  const project = fixtureProject();
  const denoDir = tempDir("tsexec-bench-deno-");
  const cacheDir = tempDir("tsexec-bench-check-");
  const scripts = ["hello.ts", "word-count.ts", "helpers.ts"];
  const tsexec = join(projectRoot, "shebang", "tsexec");
  const quiet = { NODE_EXTRA_CA_CERTS: undefined, DENO_NO_UPDATE_CHECK: "1", DENO_DIR: denoDir, NO_COLOR: "1", TSEXEC_CACHE_DIR: cacheDir };
  const variants = [
    { name: "tsgo", label: "tsexec check (tsgo, native port)", command: node, args: [tsexec, "check", ...scripts], cwd: project, env: { ...quiet, TSEXEC_CHECKER: "tsgo" } },
    { name: "tsc", label: "tsexec check (TypeScript API)", command: node, args: [tsexec, "check", ...scripts], cwd: project, env: { ...quiet, TSEXEC_CHECKER: "tsc" } },
    { name: "deno", label: "deno check (npm deno)", command: node, args: [deno, "check", "--quiet", ...scripts], cwd: project, env: quiet },
  ];
  let samples;
  try {
    samples = interleave(variants, { rounds, warmup: 1 });
  } finally {
    removeDir(project);
    removeDir(denoDir);
    removeDir(cacheDir);
  }
  const ratio = (a, b) => pairedRatio(samples, a, b);
  report.table(
    `type-checking ${scripts.join(", ")} (${rounds} interleaved rounds after 1 warm-up; wall time, spawn to exit)`,
    ["checker", "median", "p10", "p90", "vs deno check"],
    variants.map((v) => [v.label, ...spreadCells(samples[v.name]), `${ratio(v.name, "deno").toFixed(2)}x`]),
  );
  report.table("check ratios (median of per-round ratios)", ["ratio", "measured"], [
    ["tsexec check (tsgo, the default) / deno check", report.target("check tsgo / deno check", ratio("tsgo", "deno"), { op: "<=", value: 1.0 })],
    ["tsexec check (TypeScript API, the fallback) / deno check", `${ratio("tsc", "deno").toFixed(2)}x`],
  ]);
  report.note("deno check shares one DENO_DIR across the rounds (warm after the warm-up round); it still re-checks each run, as tsexec check does.");
}

/** A temporary project: the scripts, package.json, node_modules/{tsexec (types only), fp-ts, @types/node} as real directories. */
function fixtureProject() {
  const dir = tempDir("tsexec-bench-check-project-");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", dependencies: { tsexec: "*", "fp-ts": "*", "@types/node": "*" } }));
  cpSync(join(projectRoot, "examples", "hello.ts"), join(dir, "hello.ts"));
  cpSync(join(projectRoot, "examples", "word-count.ts"), join(dir, "word-count.ts"));
  writeFileSync(join(dir, "helpers.ts"), generatedHelpers(60));
  const tsexecCopy = join(dir, "node_modules", "tsexec");
  mkdirSync(tsexecCopy, { recursive: true });
  cpSync(join(projectRoot, "package.json"), join(tsexecCopy, "package.json"));
  for (const file of declarationFiles(join(projectRoot, "dist"))) {
    const target = join(tsexecCopy, "dist", relative(join(projectRoot, "dist"), file));
    mkdirSync(join(target, ".."), { recursive: true });
    cpSync(file, target);
  }
  // The same fp-ts as tsexec's own types import (one copy, as an install dedupes it): its HKT augmentation must be one.
  symlinkSync(join(projectRoot, "node_modules", "fp-ts"), join(dir, "node_modules", "fp-ts"), "dir");
  cpSync(join(projectRoot, "node_modules", "@types", "node"), join(dir, "node_modules", "@types", "node"), { recursive: true });
  return dir;
}

function declarationFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return declarationFiles(path);
    return name.endsWith(".d.ts") ? [path] : [];
  });
}

/** `n` small typed IO helpers and a script using them: generic calls, unions, inference through lib. */
function generatedHelpers(n) {
  const lines = [`import { defineScript, type IO, type Lib } from "tsexec";`, `type Shape = { kind: "circle"; r: number } | { kind: "square"; side: number };`];
  for (let i = 0; i < n; i++) {
    lines.push(
      `export function step${i}(lib: Lib, shapes: readonly Shape[]): IO<number> {`,
      `  const areas = shapes.map((s) => (s.kind === "circle" ? Math.PI * s.r ** 2 : s.side ** 2));`,
      `  return lib.bind(lib.unit(areas), (xs) => lib.map((total: number) => total + ${i}, lib.unit(xs.reduce((a, b) => a + b, 0))));`,
      `}`,
    );
  }
  lines.push(
    `export default defineScript(({ lib }) =>`,
    `  lib.mapM((i: number) => step0(lib, [{ kind: "circle", r: i }, { kind: "square", side: i }]), [1, 2, 3]),`,
    `);`,
  );
  return lines.join("\n") + "\n";
}
