// Native calls through tsexec, side by side in one process (run `node scripts/build.mjs` first):
//
//   - a C `int add(int, int)` called in a loop of IO steps, in the two shapes scripts use:
//       fresh IO per call (nix-exec's shape: the arguments change every call)
//         raw koffi:  bind(lib.io(() => koffiAdd(i, 1)), next)
//         tsexec:     bind(lib.dlopen(so, "int add(int a, int b)", [i, 1]), next)      target <= 2x
//       one IO value re-run
//         raw koffi:  bind(step, next) with step = lib.io(() => koffiAdd(1, 2))
//         tsexec:     bind(step, next) with step = lib.dlopen(so, "int add(int a, int b)", [1, 2])  target <= 1.2x
//     plus plain JS in the same loops and bare for loops, for scale;
//   - finding a derivation that is already built, as a script pays it: in a fresh
//     process, building the derivation value (hashing included) and the lookup
//     (target < 0.05 ms, no process spawned).
//
// Every figure is the median of its rounds (variants interleaved so drift hits them alike).
// `node bench/native.mjs [--quick]` runs it alone; `run(report)` prints through `report` and returns the figures.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median, projectRoot } from "./lib/measure.mjs";

export async function run(report = (line) => console.log(line)) {
  const quick = report.quick ?? process.argv.includes("--quick");
  const steps = quick ? 200_000 : 1_000_000;
  const rounds = quick ? 3 : 7;
  const work = mkdtempSync(join(tmpdir(), "tsexec-bench-native-"));
  try {
    const tsexec = await import(pathToFileURL(join(projectRoot, "dist", "index.js")).href);
    const { default: lib } = await import(pathToFileURL(join(projectRoot, "dist", "unsafe-lib.js")).href);
    const so = compileAdd(work);
    const calls = await measureCalls(tsexec, lib, so, steps, rounds);
    const lookup = measureLookup(work, quick ? 7 : 21);
    const results = {
      nsPerCall: calls,
      freshOverKoffi: calls.tsexecFresh / calls.koffiFresh,
      rerunOverKoffi: calls.tsexecRerun / calls.koffiRerun,
      builtLookupMs: lookup,
    };
    printTables(report, results, steps, rounds);
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

/** A loop of `n` IO steps: `step(i)` then the rest, built as it runs (as a script's recursive loop would). */
function repeat({ bind, unit }, step, n) {
  const go = (i) => (i === n ? unit(i) : bind(step(i), () => go(i + 1)));
  return go(0);
}

async function measureCalls(tsexec, lib, so, steps, rounds) {
  const koffiAdd = createRequire(import.meta.url)("koffi").load(so).func("int add(int a, int b)");
  const jsAdd = (a, b) => (a + b) | 0;
  const jsStep = tsexec.io(() => jsAdd(1, 2));
  const koffiStep = tsexec.io(() => koffiAdd(1, 2));
  const tsexecStep = lib.dlopen(so, "int add(int a, int b)", [1, 2]);
  const variants = {
    jsFresh: (i) => tsexec.io(() => jsAdd(i & 7, 1)),
    koffiFresh: (i) => tsexec.io(() => koffiAdd(i & 7, 1)),
    tsexecFresh: (i) => lib.dlopen(so, "int add(int a, int b)", [i & 7, 1]),
    jsRerun: () => jsStep,
    koffiRerun: () => koffiStep,
    tsexecRerun: () => tsexecStep,
  };
  const samples = { jsLoop: [], koffiLoop: [] };
  for (const name of Object.keys(variants)) samples[name] = [];
  const names = Object.keys(variants);
  // One warm-up round (JIT, the library load), then rounds alternating the order.
  for (let round = -1; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    const jsLoop = timeLoop(jsAdd, steps);
    const koffiLoop = timeLoop(koffiAdd, steps);
    if (round >= 0) samples.jsLoop.push(jsLoop), samples.koffiLoop.push(koffiLoop);
    for (const name of order) {
      const start = process.hrtime.bigint();
      const last = await tsexec.run(repeat(tsexec, variants[name], steps));
      const ns = Number(process.hrtime.bigint() - start) / steps;
      if (last !== steps) throw new Error(`bench: the ${name} loop stopped at ${last}`);
      if (round >= 0) samples[name].push(ns);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

function timeLoop(add, steps) {
  let sum = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) sum += add(i & 7, 1);
  const ns = Number(process.hrtime.bigint() - start) / steps;
  if (sum === 0) throw new Error("bench: the loop did not run");
  return ns;
}

/**
 * What a script pays to find already-built derivations, in a fresh tsexec
 * process each time (the real binary running a script): making each
 * derivation value (its hash included) and looking it up (lib.build of a
 * built derivation, run to its value), one after the other as a script's
 * steps would. Each derivation is timed inside the script, from before its
 * value is made to after its lookup. Loading tsexec and the script is not
 * part of it. Figures: the first derivation of a process (everything cold),
 * median over processes; and any derivation of a script making `count`, median
 * over all of them (a median, so a descheduled moment on a busy machine does
 * not stand for the cost), with the mean beside it.
 */
function measureLookup(work, processes) {
  const count = 50;
  const cacheDir = join(work, "lookup-cache");
  const script = join(work, "lookup.mjs");
  writeFileSync(
    script,
    `export default ({ lib }) => {
      const times = [];
      const step = (i) => {
        if (i === ${count}) return lib.io(() => console.log(JSON.stringify(times)));
        const start = process.hrtime.bigint();
        const drv = lib.runCommand("bench-lookup-" + i, { greeting: "hi " + i }, 'echo "$greeting" > "$out"');
        return lib.bind(lib.build(drv), (out) => {
          times.push(Number(process.hrtime.bigint() - start) / 1e6);
          if (!out.endsWith("-bench-lookup-" + i)) throw new Error("bench: the lookup returned " + out);
          return step(i + 1);
        });
      };
      return step(0);
    };\n`,
  );
  const tsexec = join(projectRoot, "shebang", "tsexec");
  const once = () => {
    const result = spawnSync(process.execPath, [tsexec, script], { encoding: "utf8", env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir } });
    if (result.status !== 0) throw new Error(`bench: the lookup script failed: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  once(); // builds them all
  const runs = Array.from({ length: processes }, once);
  const all = runs.flat();
  return {
    first: median(runs.map((times) => times[0])),
    any: median(all),
    mean: all.reduce((sum, ms) => sum + ms, 0) / all.length,
    processes,
    count,
  };
}

function printTables(report, { nsPerCall, freshOverKoffi, rerunOverKoffi, builtLookupMs }, steps, rounds) {
  const row = (label, value) => report(`  ${label.padEnd(52)} ${value}`);
  const ratio = (label, value, target) =>
    typeof report.target === "function" ? report.target(label, value, { op: "<=", value: target }) : `${value.toFixed(2)}x (target <= ${target})`;
  report(`native calls: int add(int, int), ${steps.toLocaleString("en")} calls per loop, median of ${rounds} rounds (ns per call)`);
  row("plain JS, bare for loop", nsPerCall.jsLoop.toFixed(1));
  row("raw koffi, bare for loop", nsPerCall.koffiLoop.toFixed(1));
  row("fresh IO per call: plain JS (lib.io)", nsPerCall.jsFresh.toFixed(1));
  row("fresh IO per call: raw koffi (lib.io)", nsPerCall.koffiFresh.toFixed(1));
  row("fresh IO per call: tsexec lib.dlopen", nsPerCall.tsexecFresh.toFixed(1));
  row("one IO re-run: plain JS (lib.io)", nsPerCall.jsRerun.toFixed(1));
  row("one IO re-run: raw koffi (lib.io)", nsPerCall.koffiRerun.toFixed(1));
  row("one IO re-run: tsexec lib.dlopen", nsPerCall.tsexecRerun.toFixed(1));
  row("fresh IO per call, tsexec / raw koffi", ratio("dlopen, fresh IO per call / raw koffi", freshOverKoffi, 2));
  row("one IO re-run, tsexec / raw koffi", ratio("dlopen, one IO re-run / raw koffi", rerunOverKoffi, 1.2));
  report(`already-built derivations found, as a script pays it (fresh tsexec process; derivation value, hash and lookup; median of ${builtLookupMs.processes} processes)`);
  row(`per derivation, ${builtLookupMs.count} in a script: median (target < 0.05 ms)`, `${builtLookupMs.any.toFixed(4)} ms`);
  row(`per derivation, ${builtLookupMs.count} in a script: mean`, `${builtLookupMs.mean.toFixed(4)} ms`);
  row("the first derivation of a process (all cold): median", `${builtLookupMs.first.toFixed(4)} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
