/**
 * Running the installed Nix (`nix-store`, `nix-instantiate` on PATH, configured
 * as that Nix is: NIX_CONFIG, nix.conf, NIX_REMOTE) and turning what goes wrong
 * into one `error:` line: no Nix, a Nix too old, a store this user cannot
 * write, a build that failed (exit 100) or ran out of time (exit 101).
 */
import type { SpawnSyncReturns } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { trackChild } from "../../../base/children.js";
import { TsexecError } from "../../../base/errors.js";
import { printable } from "../../../base/printable.js";

/** nix-store's exit codes for failed and timed-out builds, which tsexec's own store uses too. */
export const nixBuildFailed = 100;
export const nixBuildTimedOut = 101;

/** The oldest Nix whose `--add-root` makes indirect roots by default and whose store paths tsexec computes (2.4). */
const minimumVersion = [2, 4] as const;

function childProcess(): typeof import("node:child_process") {
  return process.getBuiltinModule("node:child_process");
}

export function noNix(program: string): TsexecError {
  return new TsexecError(
    `--store nix: '${program}' is not on PATH: install Nix (https://nixos.org/download, or Debian's nix-bin) or run without --store nix (tsexec's own store needs nothing)`,
  );
}

/** The first `error:` line Nix printed (else its last line), made printable. */
export function nixMessage(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const error = lines.find((l) => l.startsWith("error:"));
  return printable((error ?? lines.at(-1) ?? "(Nix printed nothing)").replace(/^error:\s*/, "")).slice(0, 500);
}

/** An error for a Nix command that failed for another reason than a build. */
export function nixFailed(what: string, stderr: string): TsexecError {
  const message = nixMessage(stderr);
  if (/permission denied|read-only file system|cannot open connection|Operation not permitted|not writable/i.test(message)) {
    return new TsexecError(
      `--store nix: ${what}: the Nix store cannot be written by this user (${message}); run as the store's owner, or use the Nix daemon (NIX_REMOTE=daemon)`,
    );
  }
  return new TsexecError(`--store nix: ${what} failed: ${message}`);
}

/** Runs a Nix command synchronously: the lookups a script's first build needs (milliseconds, no build). */
export function runNixSync(program: string, args: readonly string[], input?: string): SpawnSyncReturns<string> {
  const run = childProcess().spawnSync(program, args, { encoding: "utf8", input, maxBuffer: 64 << 20, stdio: ["pipe", "pipe", "pipe"] });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") throw noNix(program);
  if (run.error) throw new TsexecError(`--store nix: could not run ${program}: ${run.error.message}`);
  return run;
}

export interface NixRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a Nix command as a child of the run (stopped with it on SIGINT/SIGTERM); `onOutput` sees its stderr. */
export function runNix(program: string, args: readonly string[], onOutput?: (chunk: Buffer) => void): Promise<NixRun> {
  return new Promise((resolve, reject) => {
    const child = trackChild(childProcess().spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => {
      onOutput?.(chunk);
      stderr = (stderr + chunk.toString("utf8")).slice(-65536);
    });
    child.on("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? noNix(program) : new TsexecError(`--store nix: could not run ${program}: ${error.message}`)));
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let versionChecked = false;

/** The nix-store that PATH finds, and its modification time: what a remembered version is valid for. */
function nixStoreOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    const stat = statSync(`${dir}/nix-store`, { throwIfNoEntry: false });
    if (stat?.isFile()) return `${realpathSync(`${dir}/nix-store`)} ${stat.mtimeMs}`;
  }
  return undefined;
}

/**
 * Refuses a Nix older than 2.4, once per process, before the first instantiation.
 * The version found is remembered in `rememberIn` for that nix-store binary (its real
 * path and modification time), so later runs that build pay no extra process.
 */
export function checkNixVersion(rememberIn: string): void {
  if (versionChecked) return;
  const binary = nixStoreOnPath();
  if (binary !== undefined) {
    try {
      if (readFileSync(rememberIn, "utf8") === `${binary}\n`) {
        versionChecked = true;
        return;
      }
    } catch {
      // Not remembered yet.
    }
  }
  const run = runNixSync("nix-store", ["--version"]);
  const found = /\(Nix\)\s+(\d+)\.(\d+)/.exec(run.stdout);
  if (run.status !== 0 || found === null) throw nixFailed("nix-store --version", `${run.stderr}${run.stdout}`);
  const [major, minor] = [Number(found[1]), Number(found[2])];
  if (major < minimumVersion[0] || (major === minimumVersion[0] && minor < minimumVersion[1])) {
    throw new TsexecError(`--store nix needs Nix ${minimumVersion.join(".")} or later; the nix-store on PATH is ${found[1]}.${found[2]}: upgrade Nix`);
  }
  versionChecked = true;
  if (binary === undefined) return;
  try {
    mkdirSync(dirname(rememberIn), { recursive: true });
    writeFileSync(`${rememberIn}.${process.pid}.tmp`, `${binary}\n`);
    renameSync(`${rememberIn}.${process.pid}.tmp`, rememberIn);
  } catch {
    // Only saves a process next time.
  }
}
