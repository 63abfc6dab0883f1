// A fixture repository with many commits, made fast with `git fast-import`.
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

export function git(cwd, ...args) {
  return execFileSync("git", args, { cwd, env, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
}

/** A bare repository with `commits` commits over `files` files (each commit rewrites one); returns { bare, head }. */
export function manyCommitRepository(commits = 1000, files = 50) {
  const root = mkdtempSync(join(tmpdir(), "tsexec-bench-"));
  const bare = join(root, "many.git");
  git(root, "init", "-q", "--bare", bare);
  let stream = "";
  for (let i = 1; i <= commits; i++) {
    const name = `src/file-${i % files}.ts`;
    const content = `// revision ${i}\nexport const value${i % files} = ${i};\n${"// padding line\n".repeat(20)}`;
    const message = `commit ${i}`;
    stream += `commit refs/heads/main\nmark :${i}\ncommitter Bench <bench@example.invalid> ${1700000000 + i} +0000\n`;
    stream += `data ${Buffer.byteLength(message)}\n${message}\n`;
    if (i > 1) stream += `from :${i - 1}\n`;
    if (i === 1) {
      for (let f = 0; f < files; f++) {
        const text = `// initial\nexport const value${f} = 0;\n`;
        stream += `M 100644 inline src/file-${f}.ts\ndata ${Buffer.byteLength(text)}\n${text}\n`;
      }
      const script = `export default ({ args, lib }) => lib.io(() => console.log("bench script", args.length));\n`;
      stream += `M 100644 inline tool.ts\ndata ${Buffer.byteLength(script)}\n${script}\n`;
    }
    stream += `M 100644 inline ${name}\ndata ${Buffer.byteLength(content)}\n${content}\n`;
  }
  execFileSync("git", ["fast-import", "--quiet"], { cwd: bare, env, input: stream });
  return { root, bare, head: git(bare, "rev-parse", "refs/heads/main") };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Where a git benchmark prints: through bench/run.mjs's `report` (tables and targets for its
 * summary) when given one, else straight to stdout when the benchmark runs alone.
 */
export function output(report) {
  if (typeof report === "function" && typeof report.table === "function") {
    return {
      quick: report.quick === true,
      table: (title, columns, rows) => report.table(title, columns, rows),
      target: (label, ratio, target) => report.target(label, ratio, target),
      note: (text) => report.note(text),
    };
  }
  return {
    quick: false,
    table: (title, columns, rows) => printTable(title, [columns, ...rows]),
    target: (_label, ratio, { op, value }) =>
      `${ratio.toFixed(2)}x (${op} ${value}: ${(op === "<=" ? ratio <= value : ratio >= value) ? "ok" : "MISSED"})`,
    note: (text) => console.log(text),
  };
}

function printTable(title, rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  console.log(`\n${title}`);
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

/** Removes temporary directories, read-only checkouts included. */
export function removeAll(dirs) {
  const writable = (path) => {
    if (!lstatSync(path).isDirectory()) return;
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) writable(join(path, name));
  };
  for (const dir of dirs) {
    try {
      writable(dir);
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The environment policy of the git benchmarks, as in startup.mjs: measured
 * commands run without NODE_EXTRA_CA_CERTS (a constant CA-bundle load in
 * every node start, which would hide tsexec's own cost); when it is set,
 * `withCa` variants run with the environment as it is, for information.
 */
export const strippedEnv = { NODE_EXTRA_CA_CERTS: undefined };
export const caCerts = process.env.NODE_EXTRA_CA_CERTS;
