// `npm:` and project resolution without a lock: a project whose package.json names a tree of 70
// packages (bench/lib/local-registry.mjs, on 127.0.0.1) and has no lock, run by tsexec (resolve,
// fetch, install into the store, run) against `npm install --omit=dev --ignore-scripts` + node.
// Both start with an empty npm cache and tsexec with an empty cache of its own. Measured with the
// registry answering at once, and with 20 ms added to every answer (a remote registry's round trip).
// Then, with the lock npm wrote, tsexec against `npm ci` + node (target <= 0.5x).
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, projectRoot } from "./lib/measure.mjs";

const launcher = join(projectRoot, "shebang", "tsexec");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const quiet = { stdio: ["ignore", "ignore", "inherit"] };

/** bench/lib/local-registry.mjs in a child process; resolves once it prints its URL. */
function registryProcess(count, latencyMs) {
  const child = spawn(process.execPath, [join(projectRoot, "bench", "lib", "local-registry.mjs"), String(count), String(latencyMs)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let text = "";
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`the local registry exited (${code}) before it listened`)));
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) {
        child.removeAllListeners("exit");
        resolve({ url: text.trim(), close: async () => void child.kill() });
      }
    });
  });
}

function timed(run) {
  const started = performance.now();
  run();
  return performance.now() - started;
}

export async function run(report) {
  const rounds = report.quick ? 1 : 3;
  const base = mkdtempSync(join(tmpdir(), "tsexec-bench-npm-resolve-"));
  let counter = 0;
  const fresh = (prefix) => mkdtempSync(join(base, `${prefix}-${counter++}-`));
  const rows = [];
  try {
    for (const latencyMs of [0, 20]) {
      const registry = await registryProcess(70, latencyMs);
      try {
        const env = (npmCache) => ({ ...process.env, npm_config_registry: `${registry.url}/`, npm_config_cache: npmCache, npm_config_userconfig: join(base, "no-npmrc"), npm_config_audit: "false", npm_config_fund: "false" });
        const project = () => {
          const dir = fresh("project");
          writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-project", version: "1.0.0", private: true, dependencies: { "bench-p0": "^1.0.0" } }));
          writeFileSync(join(dir, "tool.ts"), `import p from "bench-p0";\nexport default ({ lib }: any) => lib.io(() => console.log(p));\n`);
          writeFileSync(join(dir, "tool.cjs"), `console.log(require("bench-p0"));\n`);
          return dir;
        };
        const tsexec = (dir, npmCache) => execFileSync(process.execPath, [launcher, join(dir, "tool.ts")], { env: { ...env(npmCache), TSEXEC_CACHE_DIR: fresh("cache") }, stdio: ["ignore", "ignore", "ignore"] });
        const npmThenNode = (dir, npmCache, command) => {
          execFileSync(npm, [command, "--omit=dev", "--ignore-scripts", "--loglevel=error"], { cwd: dir, env: env(npmCache), ...quiet });
          execFileSync(process.execPath, [join(dir, "tool.cjs")], quiet);
        };
        // Untimed once each: the transpiler's and npm's own files in the page cache.
        tsexec(project(), fresh("npm-cache"));
        const locked = project();
        npmThenNode(locked, fresh("npm-cache"), "install");
        const noLock = { tsexec: [], npm: [] };
        const withLock = { tsexec: [], npm: [] };
        for (let i = 0; i < rounds; i++) {
          const a = () => noLock.tsexec.push(timed(() => tsexec(project(), fresh("npm-cache"))));
          const b = () => noLock.npm.push(timed(() => npmThenNode(project(), fresh("npm-cache"), "install")));
          if (i % 2) (a(), b());
          else (b(), a());
          const copy = () => {
            const dir = fresh("locked");
            cpSync(join(locked, "package.json"), join(dir, "package.json"));
            cpSync(join(locked, "package-lock.json"), join(dir, "package-lock.json"));
            cpSync(join(locked, "tool.ts"), join(dir, "tool.ts"));
            cpSync(join(locked, "tool.cjs"), join(dir, "tool.cjs"));
            return dir;
          };
          const c = () => withLock.tsexec.push(timed(() => tsexec(copy(), fresh("npm-cache"))));
          const d = () => withLock.npm.push(timed(() => npmThenNode(copy(), fresh("npm-cache"), "ci")));
          if (i % 2) (c(), d());
          else (d(), c());
        }
        const ratio = (x) => median(x.tsexec.map((t, i) => t / x.npm[i]));
        const where = latencyMs === 0 ? "local registry" : `local registry + ${latencyMs} ms per answer`;
        rows.push([`70 packages, no lock, ${where}`, median(noLock.tsexec).toFixed(0), `npm install ${median(noLock.npm).toFixed(0)}`, report.target(`npm no lock / npm install (${where})`, ratio(noLock), { op: "<=", value: 1 })]);
        rows.push([`70 packages, npm's lock, ${where}`, median(withLock.tsexec).toFixed(0), `npm ci ${median(withLock.npm).toFixed(0)}`, report.target(`npm with lock / npm ci (${where})`, ratio(withLock), { op: "<=", value: 0.5 })]);
      } finally {
        await registry.close();
      }
    }
    report.table(`npm resolution, ${rounds} round(s), caches empty (tsexec's and npm's), medians of per-round ratios`, ["case", "tsexec ms", "npm + node ms", "ratio"], rows);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
