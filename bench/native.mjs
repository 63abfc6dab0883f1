// Native calls through tsexec, side by side in one process (run `npm run build` first):
//
//   - a C `int add(int, int)` called in a loop of 1,000,000 IO steps, where each step is
//       plain JS:   lib.io(() => jsAdd(1, 2))
//       raw koffi:  lib.io(() => koffiAdd(1, 2))
//       tsexec:     lib.dlopen(so, "int add(int a, int b)", [1, 2])
//     (target: tsexec at most 2x raw koffi), plus the same calls in a bare for loop for scale;
//   - finding a derivation that is already built (target: under 2 ms, no process spawned).
//
// `node bench/native.mjs` runs it alone; `run(report)` prints through `report` and returns the figures.
// The store lookup uses a fresh temporary cache directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const steps = 1_000_000;
const rounds = 5;

export async function run(report = (line) => console.log(line)) {
  const work = mkdtempSync(join(tmpdir(), "tsexec-bench-native-"));
  const cacheDir = join(work, "cache");
  try {
    const tsexec = await import("../dist/index.js");
    const { default: lib } = await import("../dist/unsafe-lib.js");
    const so = compileAdd(work);
    const calls = await measureCalls(tsexec, lib, so);
    const lookup = await measureLookup(tsexec, lib, cacheDir);
    const results = {
      nsPerCall: calls,
      tsexecOverRawKoffi: calls.tsexecIO / calls.koffiIO,
      koffiOverJs: calls.koffiIO / calls.jsIO,
      builtLookupMs: lookup,
    };
    printTable(report, results);
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function compileAdd(work) {
  const source = join(work, "add.c");
  const so = join(work, "libadd.so");
  writeFileSync(source, "int add(int a, int b) { return a + b; }\n");
  execFileSync("cc", ["-shared", "-fPIC", "-O2", "-o", so, source]);
  return so;
}

/** A loop of `n` IO steps: `step` then the rest, built as it runs (as a script's recursive loop would). */
function repeat({ bind, unit }, step, n) {
  const go = (i) => (i === n ? unit(i) : bind(step, () => go(i + 1)));
  return go(0);
}

async function measureCalls(tsexec, lib, so) {
  const koffiAdd = createRequire(import.meta.url)("koffi").load(so).func("int add(int a, int b)");
  const jsAdd = (a, b) => (a + b) | 0;
  const variants = {
    jsIO: tsexec.io(() => jsAdd(1, 2)),
    koffiIO: tsexec.io(() => koffiAdd(1, 2)),
    tsexecIO: lib.dlopen(so, "int add(int a, int b)", [1, 2]),
  };
  const best = { jsLoop: Infinity, koffiLoop: Infinity, jsIO: Infinity, koffiIO: Infinity, tsexecIO: Infinity };
  // Rounds alternate the variants so drift (turbo, GC) hits them alike; the best round counts.
  for (let round = 0; round < rounds; round++) {
    best.jsLoop = Math.min(best.jsLoop, timeLoop(jsAdd));
    best.koffiLoop = Math.min(best.koffiLoop, timeLoop(koffiAdd));
    for (const [name, step] of Object.entries(variants)) {
      const start = process.hrtime.bigint();
      const last = await tsexec.run(repeat(tsexec, step, steps));
      const ns = Number(process.hrtime.bigint() - start) / steps;
      if (last !== steps) throw new Error(`bench: the ${name} loop stopped at ${last}`);
      best[name] = Math.min(best[name], ns);
    }
  }
  return best;
}

function timeLoop(add) {
  let sum = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) sum += add(i & 7, 1);
  const ns = Number(process.hrtime.bigint() - start) / steps;
  if (sum === 0) throw new Error("bench: the loop did not run");
  return ns;
}

/** Time to find an already-built derivation: the first lookup in the process, and the mean of many. */
async function measureLookup(tsexec, lib, cacheDir) {
  const drv = lib.toFile("bench-lookup.txt", "already built\n");
  const options = { cacheDir };
  await tsexec.run(lib.build(drv), options);
  const fresh = lib.build(drv);
  let start = process.hrtime.bigint();
  await tsexec.run(fresh, options);
  const firstMs = Number(process.hrtime.bigint() - start) / 1e6;
  const n = 10_000;
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await tsexec.run(lib.build(drv), options);
  const meanMs = Number(process.hrtime.bigint() - start) / 1e6 / n;
  return { first: firstMs, mean: meanMs };
}

function printTable(report, { nsPerCall, tsexecOverRawKoffi, builtLookupMs }) {
  const row = (label, value) => report(`  ${label.padEnd(44)} ${value}`);
  report(`native calls: int add(int, int), ${steps.toLocaleString("en")} calls, best of ${rounds} rounds (ns per call)`);
  row("plain JS, bare for loop", nsPerCall.jsLoop.toFixed(1));
  row("raw koffi, bare for loop", nsPerCall.koffiLoop.toFixed(1));
  row("plain JS, IO loop (lib.io step)", nsPerCall.jsIO.toFixed(1));
  row("raw koffi, IO loop (lib.io step)", nsPerCall.koffiIO.toFixed(1));
  row("tsexec lib.dlopen, IO loop", nsPerCall.tsexecIO.toFixed(1));
  row("tsexec / raw koffi (IO loop; target <= 2)", `${tsexecOverRawKoffi.toFixed(2)}x`);
  report("already-built derivation lookup (lib.build; target < 2 ms)");
  row("first lookup in the process", `${builtLookupMs.first.toFixed(3)} ms`);
  row("mean of 10,000 lookups", `${builtLookupMs.mean.toFixed(4)} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
