// gc and profiles benchmark (docs/gc.md):
// - `tsexec gc` over a cache of 10,000 entries (transpiled scripts, checkouts, store outputs, npm
//   trees; half used within the max age): whole process, --dry-run and real. Target <= 2 s.
// - the last-use mark a warm run adds: one utimes of its manifest, timed in-process. Target <= 0.2 ms.
// - an app installed in a profile, started through its launcher, vs `tsexec REF#APP` warm, in
//   paired runs. Target <= 1.05x.
// Run alone: node bench/gc.mjs (after npm run build).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { git, median, output, removeAll } from "./lib/git-fixture.mjs";

const root = new URL("..", import.meta.url).pathname;
const launcher = join(root, "shebang", "tsexec");
const hex = (n, width) => n.toString(16).padStart(width, "0");

/** A cache of `count` entries, a quarter of each kind, every other one unused for 60 days. */
function fillCache(cacheDir, count) {
  const old = Date.now() / 1000 - 60 * 86400;
  const age = (path, i) => i % 2 === 0 && utimesSync(path, old, old);
  const each = count / 4;
  mkdirSync(join(cacheDir, "scripts"), { recursive: true });
  for (let i = 0; i < each; i++) {
    const key = hex(i, 16);
    const module = join(cacheDir, "scripts", `${key}-s.mjs`);
    writeFileSync(module, `export default ${i};\n`);
    const manifest = join(cacheDir, "scripts", `${key}.json`);
    writeFileSync(manifest, JSON.stringify({ version: "0", entry: `/src/s${i}.ts`, output: module, sources: [[`/src/s${i}.ts`, 1, 1]], outputs: [[module, 17]] }));
    age(manifest, i);
    age(module, i);
  }
  for (let r = 0; r < 20; r++) {
    const repo = join(cacheDir, "git", hex(r, 32));
    mkdirSync(join(repo, "repo.git"), { recursive: true });
    for (let i = r; i < each; i += 20) {
      const checkout = join(repo, "checkouts", hex(i, 40));
      mkdirSync(checkout, { recursive: true });
      writeFileSync(join(checkout, "main.ts"), `export default ${i};\n`);
      age(checkout, i);
    }
  }
  mkdirSync(join(cacheDir, "store", ".valid"), { recursive: true });
  for (let i = 0; i < each; i++) {
    const name = `${hex(i, 32)}-out${i}`;
    writeFileSync(join(cacheDir, "store", name), `output ${i}\n`);
    writeFileSync(join(cacheDir, "store", ".valid", name), "{}\n");
    age(join(cacheDir, "store", ".valid", name), i);
  }
  for (let i = 0; i < each; i++) {
    const tree = join(cacheDir, "npm", "trees", hex(i, 32));
    mkdirSync(join(tree, "node_modules"), { recursive: true });
    writeFileSync(join(tree, "package.json"), "{}\n");
    age(tree, i);
  }
}

function timeProcess(args, env) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [launcher, ...args], { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tsexec ${args.join(" ")} failed (exit ${result.status}): ${result.stderr}`);
  return performance.now() - started;
}

export async function run(report) {
  const out = output(report);
  const base = mkdtempSync(join(tmpdir(), "tsexec-bench-gc-"));
  const env = { ...process.env, XDG_DATA_HOME: join(base, "data") };
  delete env.NODE_EXTRA_CA_CERTS;

  // ---- gc over 10,000 entries ----
  const entries = 10_000;
  const gcCache = join(base, "gc-cache");
  fillCache(gcCache, entries);
  const gcEnv = { ...env, TSEXEC_CACHE_DIR: gcCache };
  const dry = timeProcess(["gc", "--dry-run"], gcEnv);
  const real = timeProcess(["gc"], gcEnv);

  // ---- the last-use mark: one utimes per warm run ----
  const marked = join(base, "mark.json");
  writeFileSync(marked, "{}");
  const marks = [];
  for (let round = 0; round < 20; round++) {
    const started = performance.now();
    for (let i = 0; i < 1000; i++) {
      const now = Date.now() / 1000;
      utimesSync(marked, now, now);
    }
    marks.push((performance.now() - started) / 1000);
  }

  // ---- a profile's app vs tsexec REF#APP warm ----
  const work = join(base, "work");
  git(base, "init", "-q", "-b", "main", work);
  writeFileSync(join(work, "hello.ts"), `export default ({ args, lib }: any) => lib.io(() => args.length);\n`);
  writeFileSync(join(work, "package.json"), JSON.stringify({ name: "tools", bin: { hello: "hello.ts" } }));
  git(work, "add", "-A");
  git(work, "-c", "user.name=Bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "tools");
  const bare = join(base, "tools.git");
  git(base, "clone", "-q", "--bare", work, bare);
  const commit = git(work, "rev-parse", "HEAD").trim();
  const appCache = join(base, "app-cache");
  const appEnv = { ...env, TSEXEC_CACHE_DIR: appCache };
  const reference = `git+${pathToFileURL(bare).href}?rev=${commit}#hello`;
  execFileSync(process.execPath, [launcher, "profile", "install", reference], { env: appEnv, stdio: "ignore" });
  const installed = join(base, "data", "tsexec", "profile", "bin", "hello");
  const timeApp = () => {
    const started = performance.now();
    execFileSync(installed, ["a"], { env: appEnv, stdio: "ignore" });
    return performance.now() - started;
  };
  const timeRef = () => timeProcess([reference, "a"], appEnv);
  for (let i = 0; i < 3; i++) {
    timeApp();
    timeRef();
  }
  const rounds = out.quick ? 10 : 30;
  const app = [];
  const ref = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2) {
      app.push(timeApp());
      ref.push(timeRef());
    } else {
      ref.push(timeRef());
      app.push(timeApp());
    }
  }
  const ratios = app.map((t, i) => t / ref[i]);
  removeAll([base]);

  out.table(`tsexec gc over ${entries} cache entries (half unused for 60 days), whole process`, ["case", "ms", "seconds (target)"], [
    ["tsexec gc --dry-run", dry.toFixed(0), out.target("gc --dry-run over 10,000 entries (s)", dry / 1000, { op: "<=", value: 2 })],
    ["tsexec gc (removes the unused half)", real.toFixed(0), out.target("gc over 10,000 entries (s)", real / 1000, { op: "<=", value: 2 })],
  ]);
  out.table("last-use mark a warm run adds (one utimes of its transpile manifest; in-process, median of 20 x 1000)", ["case", "ms per run", "target"], [
    ["utimes of one mark", median(marks).toFixed(4), out.target("last-use mark per warm run (ms)", median(marks), { op: "<=", value: 0.2 })],
  ]);
  out.table(`an app installed in a profile vs tsexec REF#APP warm (${rounds} paired runs, medians)`, ["case", "ms", "vs tsexec REF#APP"], [
    ["tsexec git+file://…?rev=<commit>#hello a", median(ref).toFixed(1), "1.00x"],
    ["<profile>/bin/hello a", median(app).toFixed(1), out.target("profile app vs tsexec REF#APP warm", median(ratios), { op: "<=", value: 1.05 })],
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
