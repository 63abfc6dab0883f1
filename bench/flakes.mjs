// Inputs benchmark: a script whose declared git inputs are all locked (tsexec.lock)
// and cached, against the same script without inputs, in paired runs of the real
// launcher (alternating which goes first). Target: with inputs <= 1.05x without.
// Run alone: node bench/flakes.mjs (after npm run build).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { git, median, output, removeAll } from "./lib/git-fixture.mjs";

const root = new URL("..", import.meta.url).pathname;
const launcher = join(root, "shebang", "tsexec");
const body = `export default ({ args, lib }: any) => lib.io(() => args.length);\n`;

function repository(base, name) {
  const work = join(base, `${name}-work`);
  git(base, "init", "-q", "-b", "main", work);
  writeFileSync(join(work, "lib.ts"), `export const name = ${JSON.stringify(name)};\n`);
  git(work, "add", "-A");
  git(work, "-c", "user.name=Bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", name);
  const bare = join(base, `${name}.git`);
  git(base, "clone", "-q", "--bare", work, bare);
  return pathToFileURL(bare).href;
}

export async function run(report) {
  const out = output(report);
  const base = mkdtempSync(join(tmpdir(), "tsexec-bench-flakes-"));
  const names = ["tools", "data", "config"];
  const urls = names.map((name) => repository(base, name));
  const withInputs = join(base, "with");
  const without = join(base, "without");
  mkdirSync(withInputs);
  mkdirSync(without);
  const declaration = names.map((name, i) => `  ${name}: "git+${urls[i]}?ref=main",`).join("\n");
  writeFileSync(join(withInputs, "main.ts"), `export const inputs = {\n${declaration}\n};\n${body}`);
  writeFileSync(join(without, "main.ts"), body);

  const cacheDir = mkdtempSync(join(tmpdir(), "tsexec-bench-flakes-cache-"));
  const env = { ...process.env, TSEXEC_CACHE_DIR: cacheDir, NODE_EXTRA_CA_CERTS: "" };
  delete env.NODE_EXTRA_CA_CERTS;
  const time = (dir) => {
    const started = performance.now();
    execFileSync(process.execPath, [launcher, join(dir, "main.ts"), "a"], { env, stdio: "ignore" });
    return performance.now() - started;
  };
  // Warm-up: resolve and lock the inputs, fetch them, fill both transpile caches.
  for (let i = 0; i < 3; i++) {
    time(withInputs);
    time(without);
  }
  const rounds = out.quick ? 10 : 30;
  const a = [];
  const b = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2) {
      a.push(time(withInputs));
      b.push(time(without));
    } else {
      b.push(time(without));
      a.push(time(withInputs));
    }
  }
  // Per-round ratios: both sides of each ran back to back.
  const ratios = a.map((t, i) => t / b[i]);
  removeAll([base, cacheDir]);
  out.table(`a script with ${names.length} locked, cached inputs vs the same script without inputs (${rounds} paired runs, medians)`, ["case", "ms", "vs no inputs"], [
    ["tsexec main.ts (no inputs)", median(b).toFixed(1), "1.00x"],
    [`tsexec main.ts (${names.length} locked inputs)`, median(a).toFixed(1), out.target("locked, cached inputs vs none", median(ratios), { op: "<=", value: 1.05 })],
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
