/**
 * The build store: `<cache-dir>/store/<hash>-<name>`, one read-only output per derivation.
 *
 * - Finding a built output is one `lstat`, synchronous: no process, no lock.
 * - A build runs in `<cache-dir>/builds/<store-name>.<pid>/` (an empty `work/`
 *   directory as cwd, `$out` beside it) and its output is renamed into the
 *   store only on success, so the store never holds a partial output. A build
 *   killed mid-way leaves only that temporary directory, which the next build
 *   of the same derivation removes.
 * - Two processes building the same derivation take turns on a lock file
 *   (`<cache-dir>/builds/<store-name>.lock`, holding the builder's pid); the
 *   second finds the output the first made. A lock whose process is dead is
 *   stale and is broken.
 * - A failed build exits tsexec with code 100 (nix's code) and prints the
 *   builder's output tail.
 */
import type { SpawnOptions } from "node:child_process";
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../runtime/errors.js";
import { makeReadOnly, removeTree } from "../../runtime/files.js";
import { getConfiguration } from "../../runtime/package.js";
import { isAlive, processStart } from "../../runtime/processes.js";
import { outputPath, renderForStore, storeDir, type Derivation } from "./derivation.js";

/** nix's exit code for a failed build. */
export const buildFailureExitCode = 100;

/** How many lines of a failed builder's output the error shows. */
const tailLines = 25;
const lockPollMs = 20;

/** Counts the builds this process ran (tests read it to prove nothing was rebuilt). */
export const storeStats = { builds: 0 };

/** True when `path` (an output path) exists: the derivation is built. */
export function isBuilt(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** Builds in progress in this process, by output path: a second request joins the first. */
const inFlight = new Map<string, Promise<string>>();

/** Builds `drv` (inputs first, independent inputs in parallel) unless it is built; yields its output path. */
export function realise(drv: Derivation, ctx: PrimitiveContext): Promise<string> {
  const out = outputPath(drv, ctx.cacheDir);
  if (isBuilt(out)) return Promise.resolve(out);
  let pending = inFlight.get(out);
  if (pending === undefined) {
    pending = realiseUnbuilt(drv, out, ctx).finally(() => inFlight.delete(out));
    inFlight.set(out, pending);
  }
  return pending;
}

async function realiseUnbuilt(drv: Derivation, out: string, ctx: PrimitiveContext): Promise<string> {
  await Promise.all(drv.inputs.map((input) => realise(input, ctx)));
  const paths = buildPaths(drv, ctx.cacheDir);
  while (!tryLock(paths.lock)) {
    if (isBuilt(out)) return out;
    await new Promise((resolve) => setTimeout(resolve, lockPollMs));
  }
  try {
    if (isBuilt(out)) return out;
    prepareBuild(paths, drv, ctx);
    if (drv.recipe.kind === "command") {
      const result = await runBuilderAsync(builderCommand(drv, paths), ctx.verbose);
      checkBuilder(drv, result, paths);
    }
    return install(paths, out);
  } finally {
    discard(paths);
  }
}

/**
 * The synchronous form of `realise`, for tsexec's own tiny builds (the argv
 * library) that must not leave a synchronous `dlopen`. It blocks the thread.
 */
export function realiseSync(drv: Derivation, ctx: PrimitiveContext): string {
  const out = outputPath(drv, ctx.cacheDir);
  if (isBuilt(out)) return out;
  for (const input of drv.inputs) realiseSync(input, ctx);
  const paths = buildPaths(drv, ctx.cacheDir);
  while (!tryLock(paths.lock)) {
    if (isBuilt(out)) return out;
    sleepSync(lockPollMs);
  }
  try {
    if (isBuilt(out)) return out;
    prepareBuild(paths, drv, ctx);
    if (drv.recipe.kind === "command") {
      const command = builderCommand(drv, paths);
      const run = childProcess().spawnSync(command.file, command.args, { ...command.options, encoding: "utf8", maxBuffer: 64 << 20 });
      const output = `${run.stdout ?? ""}${run.stderr ?? ""}`;
      if (ctx.verbose) process.stderr.write(output);
      checkBuilder(drv, { code: run.status, signal: run.signal, error: run.error, output }, paths);
    }
    return install(paths, out);
  } finally {
    discard(paths);
  }
}

interface BuildPaths {
  readonly store: string;
  readonly builds: string;
  readonly lock: string;
  /** This process's temporary directory for the build. */
  readonly top: string;
  readonly work: string;
  readonly out: string;
}

function buildPaths(drv: Derivation, cacheDir: string): BuildPaths {
  const builds = join(cacheDir, "builds");
  const top = join(builds, `${drv.storeName}.${process.pid}`);
  return {
    store: storeDir(cacheDir),
    builds,
    lock: join(builds, `${drv.storeName}.lock`),
    top,
    work: join(top, "work"),
    out: join(top, drv.name),
  };
}

/**
 * Holding the lock: remove what killed builds of this derivation left (any
 * `<store-name>.<pid>` directory: no other process can be building it), make
 * the empty build directory, write a file output.
 */
function prepareBuild(paths: BuildPaths, drv: Derivation, ctx: PrimitiveContext): void {
  const prefix = `${drv.storeName}.`;
  for (const entry of readdirSync(paths.builds)) {
    if (entry.startsWith(prefix) && !entry.includes(".lock")) removeTree(join(paths.builds, entry));
  }
  mkdirSync(paths.work, { recursive: true });
  mkdirSync(paths.store, { recursive: true });
  storeStats.builds++;
  if (ctx.verbose) ctx.log(`building ${drv.storeName}`);
  if (drv.recipe.kind === "file") writeFileSync(paths.out, renderForStore(drv.recipe.text, paths.store));
}

interface BuilderCommand {
  readonly file: string;
  readonly args: string[];
  readonly options: SpawnOptions;
}

/**
 * The builder's environment is small and explicit, as in nix: `$PATH` (so
 * `sh` and `cc` are found), the build directory as `$HOME`/`$TMPDIR`,
 * `$NODE_API_INCLUDE`, `$TSEXEC_INCLUDE` (tsexec.h), `$out`, then the derivation's env. Only the
 * derivation's own fields are part of its hash.
 */
function builderCommand(drv: Derivation, paths: BuildPaths): BuilderCommand {
  const recipe = drv.recipe;
  if (recipe.kind !== "command") throw new Error("builderCommand: not a command derivation");
  const render = (text: string) => renderForStore(text, paths.store);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: paths.work,
    TMPDIR: paths.work,
    NODE_API_INCLUDE: getConfiguration().nodeApiInclude,
    TSEXEC_INCLUDE: join(getConfiguration().datadir, "include"),
    TSEXEC_BUILD_TOP: paths.work,
  };
  for (const [key, value] of recipe.env) env[key] = render(value);
  env.out = paths.out;
  return {
    file: render(recipe.builder),
    args: recipe.args.map(render),
    options: { cwd: paths.work, env, stdio: ["ignore", "pipe", "pipe"] },
  };
}

interface BuilderResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error: Error | undefined;
  readonly output: string;
}

function runBuilderAsync(command: BuilderCommand, verbose: boolean): Promise<BuilderResult> {
  return new Promise((resolve) => {
    const child = childProcess().spawn(command.file, command.args, command.options);
    let output = "";
    let error: Error | undefined;
    const collect = (chunk: Buffer) => {
      if (verbose) process.stderr.write(chunk);
      // Keep a bounded tail: only the last lines are shown.
      output = (output + chunk.toString("utf8")).slice(-65536);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", (e) => (error = e));
    child.on("close", (code, signal) => resolve({ code, signal, error, output }));
  });
}

function checkBuilder(drv: Derivation, result: BuilderResult, paths: BuildPaths): void {
  const recipe = drv.recipe as Extract<Derivation["recipe"], { kind: "command" }>;
  const builder = renderForStore(recipe.builder, paths.store);
  let problem: string | undefined;
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    problem =
      code === "ENOENT"
        ? `its builder '${builder}' was not found (is it on $PATH?)`
        : `its builder '${builder}' could not run: ${result.error.message}`;
  } else if (result.signal) {
    problem = `its builder '${builder}' was killed by signal ${result.signal}`;
  } else if (result.code !== 0) {
    problem = `its builder '${builder}' exited with code ${result.code}`;
  } else if (!isBuilt(paths.out)) {
    problem = `its builder '${builder}' succeeded but wrote nothing at $out`;
  }
  if (problem === undefined) return;
  const lines = result.output.replace(/\n$/, "").split("\n").slice(-tailLines);
  const tail = result.output.trim() === "" ? "  (the builder printed nothing)" : lines.map((line) => `  | ${line}`).join("\n");
  throw new TsexecError(
    `building '${drv.name}' (${drv.storeName}) failed: ${problem}. Last lines of its output:\n${tail}\n` +
      `Nothing was added to the store; fix the build and run again.`,
    buildFailureExitCode,
  );
}

/** Makes the output read-only and renames it into the store. */
function install(paths: BuildPaths, out: string): string {
  const isDirectory = lstatSync(paths.out).isDirectory();
  makeReadOnly(paths.out, false);
  renameSync(paths.out, out);
  // A directory is made read-only only once in place: renaming a directory to
  // another parent needs write permission on it (to update its `..`).
  if (isDirectory) chmodSync(out, 0o555);
  return out;
}

/** Removes this build's temporary directory and releases the lock. */
function discard(paths: BuildPaths): void {
  removeTree(paths.top);
  try {
    unlinkSync(paths.lock);
  } catch {
    // Already gone: nothing to release.
  }
}

/**
 * Takes the lock at `lock` if it is free: the owner's identity (pid and start
 * time) is written to a private file first and hard-linked into place, so a
 * lock file always holds its owner (`link` fails atomically when the lock
 * exists). A lock whose owner is dead is broken, under a second short-lived
 * lock so two waiters cannot both break it.
 */
export function tryLock(lock: string): boolean {
  mkdirSync(join(lock, ".."), { recursive: true });
  if (linkExclusive(lock)) return true;
  const owner = lockOwner(lock);
  if (owner === undefined || isOwnerAlive(owner)) return false;
  const breaker = `${lock}.break`;
  if (!linkExclusive(breaker)) {
    // A waiter died while breaking: its breaker lock is stale after a while.
    if (ageMs(breaker) > 5_000) unlinkQuietly(breaker);
    return false;
  }
  try {
    if (lockOwner(lock) === owner) unlinkQuietly(lock);
  } finally {
    unlinkQuietly(breaker);
  }
  return linkExclusive(lock);
}

function linkExclusive(path: string): boolean {
  const mine = `${path}.${process.pid}.tmp`;
  writeFileSync(mine, `${ownIdentity()}\n`);
  try {
    linkSync(mine, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkQuietly(mine);
  }
}

/**
 * A process's identity in a lock: its pid and, where /proc exists, its start
 * time, so a lock whose pid was reused by an unrelated process is still seen
 * as stale.
 */
function processIdentity(pid: number): string {
  return `${pid} ${processStart(pid) ?? ""}`.trim();
}

/** This process's identity, read from /proc when a lock is first taken (not at start-up). */
let ownIdentityText: string | undefined;
function ownIdentity(): string {
  return (ownIdentityText ??= processIdentity(process.pid));
}

/** The identity written in a lock file, or undefined if there is none (yet, or any more). */
function lockOwner(lock: string): string | undefined {
  try {
    const owner = readFileSync(lock, "utf8").trim();
    return owner === "" ? undefined : owner;
  } catch {
    return undefined;
  }
}

function isOwnerAlive(owner: string): boolean {
  const [pidText, start] = owner.split(" ");
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !isAlive(pid)) return false;
  const now = processStart(pid);
  return start === undefined || now === undefined || now === start;
}

function ageMs(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat ? Date.now() - stat.mtimeMs : 0;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}

/** node:child_process, loaded when a build runs: finding built outputs (the common case) never needs it. */
function childProcess(): typeof import("node:child_process") {
  return process.getBuiltinModule("node:child_process");
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
