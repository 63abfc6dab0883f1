// Shared measuring helpers for the benchmarks in bench/*.mjs.
//
// Ratios are what the benchmarks report, so everything here is built to make
// two timings comparable: variants run side by side in one process tree,
// interleaved (A B C, then C B A, ...) so that drift in the machine's speed
// (thermal, other tenants, page cache) lands on every variant alike, and the
// median is taken so a stray slow run does not move the result.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The tsexec checkout the benchmarks measure: the directory above bench/, or
 * $TSEXEC_BENCH_ROOT (another checkout, built) to compare two versions with
 * the same harness.
 */
export const projectRoot = process.env.TSEXEC_BENCH_ROOT
  ? resolve(process.env.TSEXEC_BENCH_ROOT)
  : fileURLToPath(new URL("../..", import.meta.url));
export const benchRoot = fileURLToPath(new URL("..", import.meta.url));

export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The `q`-quantile (0..1) by nearest rank: for spread columns (p10/p90). */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

/**
 * The median of per-round ratios `a / b`, for samples taken side by side (`{ [name]: ms[] }`,
 * one entry per round): drift in the machine's speed lands on both sides of each ratio.
 */
export function pairedRatio(samples, a, b) {
  return median(samples[a].map((ms, i) => ms / samples[b][i]));
}

/** The median, p10 and p90 of `values` (ms), formatted: the spread columns of a timing table. */
export function spreadCells(values) {
  return [formatMs(median(values)), formatMs(quantile(values, 0.1)), formatMs(quantile(values, 0.9))];
}

/** `1.07x`; a target such as `<= 1.15` adds ` ok` or ` MISSED`. */
export function formatRatio(ratio, target) {
  const text = `${ratio.toFixed(2)}x`;
  if (!target) return text;
  return `${text} (target ${target.op} ${target.value}: ${meetsTarget(ratio, target) ? "ok" : "MISSED"})`;
}

export function meetsTarget(ratio, { op, value }) {
  return op === "<=" ? ratio <= value : ratio >= value;
}

export function formatMs(ms) {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

/** `12.3 M/s`, `456 k/s`: steps (or anything) per second. */
export function formatRate(perSecond) {
  if (!Number.isFinite(perSecond)) return "-";
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(0)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

export function formatBytes(bytes) {
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(2)} GiB` : `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}

/** A fresh temporary directory; remove it with `removeDir`. */
export function tempDir(prefix = "tsexec-bench-") {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs a command once and returns its wall time in ms (spawn to exit, the
 * same fixed spawn cost for every variant). A non-zero exit throws, with the
 * command and its stderr, so a broken variant never reports a fast time.
 * `env` holds changes to this process's environment (see withEnv).
 */
export function timeCommand({ command, args = [], env, cwd = projectRoot }) {
  const childEnv = withEnv(env);
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd, env: childEnv, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error) throw new Error(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const why = result.signal ? `was killed by ${result.signal}` : `exited with ${result.status}`;
    throw new Error(`${[command, ...args].join(" ")} ${why}:\n${result.stderr.trim()}`);
  }
  return ms;
}

/** `process.env` with `changes` applied; a change to `undefined` removes the variable. */
export function withEnv(changes) {
  const env = { ...process.env };
  for (const [name, value] of Object.entries(changes ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/**
 * Times each variant `rounds` times, interleaved: round i runs the variants in
 * order when i is even and in reverse when odd, so no variant always runs
 * first (or right after a given other). `warmup` rounds are run and dropped
 * (they fill the page cache and any warm caches the variants rely on).
 *
 * A variant is `{ name, prepare?(): spec, cleanup?(spec), command, args, env }`:
 * `prepare` (untimed) may return a per-run `{ command, args, env }` override,
 * e.g. a fresh cache directory for a cold run; `cleanup` undoes it, untimed.
 *
 * Returns `{ [name]: number[] }` (ms per run, in run order).
 */
export function interleave(variants, { rounds, warmup = 2 }) {
  const samples = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let round = -warmup; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const override = variant.prepare ? variant.prepare() : undefined;
      try {
        const ms = timeCommand({ ...variant, ...override, env: { ...variant.env, ...override?.env } });
        if (round >= 0) samples[variant.name].push(ms);
      } finally {
        variant.cleanup?.(override);
      }
    }
  }
  return samples;
}

/** Calls `fn` and returns `{ ms, value }`. */
export function timeCall(fn) {
  const started = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

/**
 * A plain-text table: `columns` are header strings, `rows` arrays of cells
 * (strings or numbers). Columns of figures (`12`, `1.07x`, `80.0 ms`, `3.1 M/s`) are right-aligned.
 */
export function formatTable(columns, rows) {
  const cells = [columns, ...rows].map((row) => row.map((cell) => String(cell ?? "")));
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((row) => isFigure(String(row[i] ?? ""))));
  const line = (row) =>
    row
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

function isFigure(cell) {
  return cell === "-" || /^[-+]?[\d.,]+ ?([a-zA-Z%]+(\/s)?|\/s)?$/.test(cell);
}
