// `npm run bench`: runs every benchmark in bench/ and prints its tables.
//
//     node bench/run.mjs                     all benchmarks
//     node bench/run.mjs startup interpreter only these (file names without .mjs)
//     node bench/run.mjs --quick             fewer rounds (a smoke run, figures are noisier)
//     TSEXEC_BENCH_ROOT=../other node bench/run.mjs   measure another (built) checkout
//     TSEXEC_BENCH_ALSO=../a,../b node bench/run.mjs startup
//                                            add the warm runs of other checkouts to the same rounds
//
// A benchmark is a module bench/<topic>.mjs that exports `async function run(report)`.
// It prints through `report` (see makeReport below) or returns what to print:
// a string, a table `{ title, columns, rows }`, or an array of those (any other
// returned value, e.g. figures for programmatic use, is printed as JSON only
// when the benchmark printed nothing through `report`).
// The peers measured against (Effect, fp-ts, tsx) live in bench/package.json,
// installed into bench/node_modules on first use, never in tsexec's own install.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { benchRoot, formatRatio, formatTable, meetsTarget, projectRoot } from "./lib/measure.mjs";

/** Benchmarks that run first, in this order; the others follow by name. */
const leading = ["startup", "interpreter"];

async function main(argv) {
  const quick = argv.includes("--quick");
  const wanted = argv.filter((arg) => !arg.startsWith("--"));
  ensureBenchDependencies();
  ensureNewestEffect();
  print(`node ${process.version} on ${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)}; measuring ${projectRoot}`);
  return runAll(selectBenchmarks(wanted), quick);
}

/** Installs bench/package.json's dependencies when bench/node_modules lacks any of them. */
function ensureBenchDependencies() {
  const manifest = JSON.parse(readFileSync(join(benchRoot, "package.json"), "utf8"));
  const missing = Object.keys(manifest.dependencies ?? {}).filter(
    (name) => !existsSync(join(benchRoot, "node_modules", name, "package.json")),
  );
  if (missing.length === 0) return;
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  // `npm install` honours the lock as `npm ci` would, and copes with what npm 11 leaves out of it
  // here (other platforms' optional packages of deno), which `npm ci` refuses as out of sync.
  const args = ["install"];
  process.stderr.write(`bench: installing the benchmarks' own dependencies (${missing.join(", ")} missing): npm ${args[0]} --prefix bench\n`);
  const result = spawnSync(npm, [...args, "--prefix", benchRoot, "--no-audit", "--no-fund"], {
    cwd: projectRoot,
    stdio: ["ignore", process.stderr, process.stderr],
  });
  if (result.status !== 0) {
    throw new Error(`npm ${args[0]} --prefix bench failed (${result.error?.message ?? `exit ${result.status}`}): ` +
      `run it by hand and look at its output, then run the benchmarks again`);
  }
}

/**
 * The newest Effect is the registry's latest at the time of the run, not the version the bench's
 * lock pinned: ask the registry (`npm view effect version`) and install that version as
 * effect-latest when it differs (without saving it). Unreachable registry: the installed one is
 * measured, and its version printed by the benchmarks that use it.
 */
function ensureNewestEffect() {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const view = spawnSync(npm, ["view", "effect", "version"], { encoding: "utf8", timeout: 30_000 });
  const latest = view.status === 0 ? view.stdout.trim() : "";
  const installedManifest = join(benchRoot, "node_modules", "effect-latest", "package.json");
  const installed = existsSync(installedManifest) ? JSON.parse(readFileSync(installedManifest, "utf8")).version : undefined;
  if (!/^\d+\.\d+\.\d+$/.test(latest)) {
    print(`bench: the registry did not answer \`npm view effect version\`: measuring the installed effect@${installed}`);
    return;
  }
  if (latest === installed) return;
  process.stderr.write(`bench: the newest Effect is ${latest} (installed: ${installed}): npm install --no-save effect-latest@npm:effect@${latest}\n`);
  const result = spawnSync(npm, ["install", "--prefix", benchRoot, "--no-save", "--no-audit", "--no-fund", `effect-latest@npm:effect@${latest}`], {
    cwd: projectRoot,
    stdio: ["ignore", process.stderr, process.stderr],
  });
  if (result.status !== 0) print(`bench: installing effect@${latest} failed: measuring the installed effect@${installed}`);
}

/** bench/*.mjs files other than this one, `leading` first; `wanted` (names) narrows them. */
function selectBenchmarks(wanted) {
  const names = readdirSync(benchRoot)
    .filter((file) => file.endsWith(".mjs") && file !== "run.mjs")
    .map((file) => file.slice(0, -".mjs".length));
  const order = (name) => (leading.includes(name) ? leading.indexOf(name) : leading.length);
  names.sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const unknown = wanted.filter((name) => !names.includes(name));
  if (unknown.length > 0) throw new Error(`no benchmark named ${unknown.join(", ")} in bench/ (there are: ${names.join(", ")})`);
  return wanted.length > 0 ? names.filter((name) => wanted.includes(name)) : names;
}

async function runAll(names, quick) {
  const targets = [];
  const failures = [];
  for (const name of names) {
    const started = Date.now();
    print(`\n=== ${name} ===`);
    try {
      const module = await import(pathToFileURL(join(benchRoot, `${name}.mjs`)).href);
      if (typeof module.run !== "function") {
        // A helper module beside the benchmarks, not a benchmark.
        print("(no run() export: skipped)");
        continue;
      }
      const report = makeReport(name, quick, targets);
      const result = await module.run(report);
      // A benchmark that printed through `report` may still return its figures
      // (for programmatic use): print a returned value only if it is text or a table.
      if (!report.used || isPrintable(result)) printResult(result);
      print(`(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
      failures.push(name);
      print(`FAILED: ${name}: ${error?.stack ?? error}`);
    }
  }
  printSummary(targets, failures);
  warnIfBusy();
  return failures.length === 0 ? 0 : 1;
}

/** Timings are wall time: other work on the machine inflates them, so say when there was some. */
function warnIfBusy() {
  const [oneMinute] = loadavg();
  const cores = availableParallelism();
  if (oneMinute > cores * 0.75) {
    print(`note: the machine was busy (load average ${oneMinute.toFixed(1)} on ${cores} cores): the figures are noisier than usual; run again on an idle machine to confirm a MISSED target`);
  }
}

/**
 * What a benchmark prints through. Callable (`report(x)` prints x like a
 * returned value), with:
 *   report.table(title, columns, rows)   a titled table
 *   report.note(text)                    a line of text (also report.line / report.log)
 *   report.target(label, ratio, { op: "<=" | ">=", value })
 *                                        records a target for the closing summary,
 *                                        returns the ratio formatted with ok/MISSED
 *   report.quick                         true under --quick: use fewer rounds
 */
function makeReport(bench, quick, targets) {
  const report = (value) => {
    report.used = true;
    printResult(value);
  };
  report.used = false;
  report.table = (title, columns, rows) => report({ title, columns, rows });
  report.note = report.line = report.log = (text) => report(String(text));
  report.target = (label, ratio, target) => {
    targets.push({ bench, label, ratio, target });
    return formatRatio(ratio, target);
  };
  report.quick = quick;
  return report;
}

function isPrintable(value) {
  if (Array.isArray(value)) return value.every(isPrintable);
  return typeof value === "string" || (typeof value === "object" && value !== null && Array.isArray(value.rows));
}

function printResult(value) {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) return value.forEach(printResult);
  if (typeof value === "string") return print(value);
  if (typeof value === "object" && Array.isArray(value.rows)) {
    const columns = value.columns ?? value.rows[0]?.map((_, i) => `#${i + 1}`) ?? [];
    if (value.title) print(`\n${value.title}`);
    print(formatTable(columns, value.rows));
    return;
  }
  print(JSON.stringify(value, null, 2));
}

function printSummary(targets, failures) {
  print("\n=== summary ===");
  if (targets.length > 0) {
    const rows = targets.map(({ bench, label, ratio, target }) => [
      bench,
      label,
      `${ratio.toFixed(2)}x`,
      `${target.op} ${target.value}`,
      meetsTarget(ratio, target) ? "ok" : "MISSED",
    ]);
    print(formatTable(["bench", "what", "measured", "target", ""], rows));
  }
  print(failures.length === 0 ? "all benchmarks ran" : `benchmarks that failed: ${failures.join(", ")}`);
}

function print(text) {
  process.stdout.write(text + "\n");
}

process.exitCode = await main(process.argv.slice(2)).catch((error) => {
  print(`bench: ${error.message}`);
  return 1;
});
