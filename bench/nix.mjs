// `--store nix` against tsexec's own store (run `node scripts/build.mjs` first; needs Nix on PATH):
//
//   - finding already-built derivations, as a script pays it: a fresh tsexec process
//     runs a script that makes 50 derivations and looks each up (lib.build of a built
//     one); timed inside the script from before the first value to after the last
//     lookup. Under Nix that is one `nix-store --check-validity` for all 50 and one
//     `nix-store --realise --add-root` registering their GC roots. Target: <= 2 ms per
//     run under Nix (the issue's), against < 0.05 ms per derivation for tsexec's store.
//   - building: a derivation whose build takes ~1 s (`sleep 1`), new each round (a
//     nonce), as a whole tsexec process, through Nix / in tsexec's store. Target <= 1.2x.
//
// As root without a daemon it sets Nix's single-user settings (no build users, no
// sandbox, no substituters) unless NIX_CONFIG is set.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, projectRoot } from "./lib/measure.mjs";

const tsexec = join(projectRoot, "shebang", "tsexec");
const nixConfig =
  process.env.NIX_CONFIG ?? (process.getuid?.() === 0 ? "build-users-group =\nsandbox = false\nsubstituters =\nexperimental-features = nix-command\n" : "");

export async function run(report = (line) => console.log(line)) {
  if (spawnSync("nix-store", ["--version"]).status !== 0) {
    report("Nix is not on PATH: the --store nix benchmark is skipped");
    return {};
  }
  const quick = report.quick ?? process.argv.includes("--quick");
  const work = mkdtempSync(join(tmpdir(), "tsexec-bench-nix-"));
  try {
    const lookup = { nix: measureLookup(work, "nix", quick ? 5 : 11), tsexec: measureLookup(work, "tsexec", quick ? 5 : 11) };
    const build = measureBuild(work, quick ? 3 : 5);
    const results = { lookup, build, buildRatio: build.nix / build.tsexec };
    printTables(report, results);
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function runScript(store, script, args, cacheDir) {
  const result = spawnSync(process.execPath, [tsexec, "--store", store, script, ...args], {
    encoding: "utf8",
    env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir, NIX_CONFIG: nixConfig },
  });
  if (result.status !== 0) throw new Error(`bench: ${script} under --store ${store} failed: ${result.stderr}`);
  return result.stdout;
}

function measureLookup(work, store, processes) {
  const count = 50;
  const cacheDir = join(work, `lookup-cache-${store}`);
  const script = join(work, `lookup-${store}.mjs`);
  writeFileSync(
    script,
    `export default ({ lib }) => {
      const start = process.hrtime.bigint();
      const step = (i) => {
        if (i === ${count}) return lib.io(() => console.log(JSON.stringify(Number(process.hrtime.bigint() - start) / 1e6)));
        const drv = lib.runCommand("bench-nix-lookup-" + i, { greeting: "hi " + i }, 'echo "$greeting" > "$out"');
        return lib.bind(lib.build(drv), () => step(i + 1));
      };
      return step(0);
    };\n`,
  );
  runScript(store, script, [], cacheDir); // builds them all
  const totals = Array.from({ length: processes }, () => JSON.parse(runScript(store, script, [], cacheDir)));
  return { perRun: median(totals), perDerivation: median(totals) / count, count, processes };
}

function measureBuild(work, rounds) {
  const script = join(work, "build.mjs");
  writeFileSync(
    script,
    `export default ({ args, lib }) => lib.build(lib.runCommand("bench-nix-build", { nonce: args[1] }, 'sleep 1; echo "$nonce" > "$out"'));\n`,
  );
  const samples = { nix: [], tsexec: [] };
  for (let round = 0; round < rounds; round++) {
    for (const store of round % 2 === 0 ? ["nix", "tsexec"] : ["tsexec", "nix"]) {
      const nonce = `${process.pid}-${Date.now()}-${round}-${store}`;
      const started = process.hrtime.bigint();
      runScript(store, script, [nonce], join(work, `build-cache-${store}`));
      samples[store].push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return { nix: median(samples.nix), tsexec: median(samples.tsexec), rounds };
}

function printTables(report, { lookup, build, buildRatio }) {
  const row = (label, value) => report(`  ${label.padEnd(64)} ${value}`);
  report(`already-built derivations found, as a script pays it (${lookup.nix.count} derivations, fresh process, median of ${lookup.nix.processes})`);
  row("--store nix: per run (one nix-store batch + GC roots) (target <= 2 ms)", `${lookup.nix.perRun.toFixed(2)} ms`);
  row("--store nix: per derivation", `${lookup.nix.perDerivation.toFixed(4)} ms`);
  row("tsexec's store: per run", `${lookup.tsexec.perRun.toFixed(2)} ms`);
  row("tsexec's store: per derivation (target < 0.05 ms)", `${lookup.tsexec.perDerivation.toFixed(4)} ms`);
  report(`a ~1 s build (sleep 1), whole tsexec process, median of ${build.rounds} rounds`);
  row("--store nix", `${build.nix.toFixed(0)} ms`);
  row("tsexec's store", `${build.tsexec.toFixed(0)} ms`);
  row(
    "--store nix / tsexec's store",
    typeof report.target === "function" ? report.target("build through Nix / tsexec's store", buildRatio, { op: "<=", value: 1.2 }) : `${buildRatio.toFixed(2)}x (target <= 1.2)`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
