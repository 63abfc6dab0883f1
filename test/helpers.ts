/** Shared helpers for end-to-end tests: run the real `tsexec` binary on real files. */
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const launcher = join(root, "shebang", "tsexec");

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Cache directory for this run; a fresh temporary one when omitted. */
  cacheDir?: string;
  input?: string;
  timeoutMs?: number;
}

/** Runs `node shebang/tsexec ...args` and collects its output. */
export function runTsexec(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  return runCommand(process.execPath, [launcher, ...args], options);
}

export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    TSEXEC_CACHE_DIR: options.cacheDir ?? tempDir("cache-"),
    ...options.env,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? root, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A new temporary directory (left for the OS to clean: tests may inspect it after a failure). */
export function tempDir(prefix = "tsexec-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `files` (relative path → contents) under a new temporary directory; returns the directory. */
export function writeTree(files: Record<string, string>, dir: string = tempDir()): string {
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return dir;
}

/** Waits (polling, no fixed sleep) until `condition` holds; fails naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A tsexec run whose stderr can be watched while it runs. */
export function startTsexec(args: readonly string[], cacheDir: string): { seen(pattern: RegExp): Promise<void>; done: Promise<Outcome> } {
  const child = spawn(process.execPath, [launcher, ...args], { env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<Outcome>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { seen: (pattern) => until(() => pattern.test(stderr), `${pattern} in the stderr of tsexec ${args.join(" ")}`, 20_000), done };
}
