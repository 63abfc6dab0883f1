/**
 * The build store: `<cache-dir>/store/<hash>-<name>`, one read-only output per derivation.
 *
 * - A derivation builds at its final path, as in nix: `$out` is the store
 *   path, so outputs that record their own prefix (`./configure
 *   --prefix=$out`, pkg-config files, rpaths, `#!$out/bin/...`) stay right.
 *   The build runs under the derivation's build lock (lock.ts), with an empty
 *   `<cache-dir>/builds/<store-name>.<pid>/` as its working directory.
 * - An output is valid only once its marker, `<store>/.valid/<store-name>`,
 *   exists; it is written atomically after the build succeeded and the
 *   output was made read-only. Finding a built output is one `lstat` of the
 *   marker: synchronous, no process, no lock. Whatever an interrupted or
 *   failed build left at the store path is never taken for an output, and
 *   the next build of that derivation removes it first.
 * - The first build in a process sweeps what killed builds left behind, for
 *   any derivation: unmarked store paths, build directories and temporary
 *   files whose builds are not running (their lock can be taken).
 * - A failed build exits tsexec with code 100 (nix's code) and prints the
 *   builder's output tail; a build out of time exits with 101.
 */
import { lstatSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { acquireLock, acquireLockSync, tryLock, type LockWait, type Release } from "../../base/file-lock.js";
import { makeDirectory, makeReadOnly, removeTree, writeFileAtomic } from "../../base/files.js";
import { markUsed } from "../../base/last-use.js";
import {
  builderCommand,
  checkBuilder,
  childProcess,
  runBuilder,
  type BuildDirs,
  type BuildLimits,
  type BuilderResult,
} from "./builder.js";
import { outputPath, renderForStore, storeDir, type Derivation } from "./derivation.js";
import { isLauncherDerivation, launcherPath, launcherPathSync } from "./launcher.js";

export { buildFailureExitCode, buildTimeoutExitCode } from "./builder.js";

/** Counts the builds this process ran (tests read it to prove nothing was rebuilt). */
export const storeStats = { builds: 0, swept: 0 };

/** The directory of validity markers inside the store. */
const validDir = ".valid";

/** The marker that makes the output at `out` (a store path) valid. */
export function validMarker(out: string): string {
  const slash = out.lastIndexOf("/");
  return `${out.slice(0, slash)}/${validDir}/${out.slice(slash + 1)}`;
}

/**
 * True when the derivation whose output path is `out` is built: its marker, and the output
 * itself (one lstat each). A marker whose output was deleted (by hand, by a cleaner) is no
 * output: the next build removes the marker first, then builds again.
 */
export function isBuilt(out: string): boolean {
  return lstatSync(validMarker(out), { throwIfNoEntry: false }) !== undefined && lstatSync(out, { throwIfNoEntry: false }) !== undefined;
}

/** A built output found: its marker's mtime is the last-use mark tsexec gc reads. */
function usedOutput(out: string): string {
  markUsed(validMarker(out));
  return out;
}

/** Builds in progress in this process, by output path: a second request joins the first. */
const inFlight = new Map<string, Promise<string>>();

/** Builds `drv` (inputs first, independent inputs in parallel) unless it is built; yields its output path. */
export function realise(drv: Derivation, ctx: PrimitiveContext): Promise<string> {
  const out = outputPath(drv, ctx.cacheDir);
  if (isBuilt(out)) return Promise.resolve(usedOutput(out));
  let pending = inFlight.get(out);
  if (pending === undefined) {
    pending = realiseUnbuilt(drv, out, ctx).finally(() => inFlight.delete(out));
    inFlight.set(out, pending);
  }
  return pending;
}

async function realiseUnbuilt(drv: Derivation, out: string, ctx: PrimitiveContext): Promise<string> {
  await Promise.all(drv.inputs.map((input) => realise(input, ctx)));
  const launcher = usesLauncher(drv) ? await launcherPath(ctx, (d) => realise(d, ctx)) : undefined;
  const paths = buildPaths(drv, ctx.cacheDir);
  makeDirectory(paths.builds);
  const release = await acquireLock(paths.lock, buildWait(drv, out, ctx));
  if (release === undefined) return out;
  try {
    if (isBuilt(out)) return out;
    prepareBuild(paths, drv, ctx);
    if (drv.recipe.kind === "command") {
      const limits = buildLimits(drv, ctx);
      const result = await runBuilder(builderCommand(drv, paths), launcher, limits, ctx.verbose);
      checkBuilder(drv, result, paths, limits, () => exists(paths.out));
    }
    return register(paths);
  } finally {
    discard(paths, release);
  }
}

/**
 * The synchronous form of `realise`, for tsexec's own tiny builds (the argv
 * library) that must not leave a synchronous `dlopen`. It blocks the thread,
 * and applies no time limits.
 */
export function realiseSync(drv: Derivation, ctx: PrimitiveContext): string {
  const out = outputPath(drv, ctx.cacheDir);
  if (isBuilt(out)) return usedOutput(out);
  for (const input of drv.inputs) realiseSync(input, ctx);
  const launcher = usesLauncher(drv) ? launcherPathSync((d) => realiseSync(d, ctx)) : undefined;
  const paths = buildPaths(drv, ctx.cacheDir);
  makeDirectory(paths.builds);
  const release = acquireLockSync(paths.lock, buildWait(drv, out, ctx));
  if (release === undefined) return out;
  try {
    if (isBuilt(out)) return out;
    prepareBuild(paths, drv, ctx);
    if (drv.recipe.kind === "command") {
      const command = builderCommand(drv, paths);
      const [file, args] = launcher === undefined ? [command.file, command.args] : [launcher, [String(process.pid), command.file, ...command.args]];
      const run = childProcess().spawnSync(file, args, { ...command.options, encoding: "utf8", maxBuffer: 64 << 20 });
      const output = `${run.stdout ?? ""}${run.stderr ?? ""}`;
      if (ctx.verbose) process.stderr.write(output);
      const result: BuilderResult = { code: run.status, signal: run.signal, error: run.error, output };
      checkBuilder(drv, result, paths, noLimits, () => exists(paths.out));
    }
    return register(paths);
  } finally {
    discard(paths, release);
  }
}

/** Waiting for the build lock: over once another process made the output valid. */
function buildWait(drv: Derivation, out: string, ctx: PrimitiveContext): LockWait {
  return { what: `the build of ${drv.storeName}`, log: ctx.log, done: () => isBuilt(out), verbose: ctx.verbose };
}

const noLimits: BuildLimits = { timeout: undefined, maxSilentTime: undefined, timeoutSource: "" };

/** Builders run through the launcher, except the launcher's own build. */
function usesLauncher(drv: Derivation): boolean {
  return drv.recipe.kind === "command" && !isLauncherDerivation(drv);
}

/** The derivation's own limits, and --build-timeout (the smaller timeout wins). */
function buildLimits(drv: Derivation, ctx: PrimitiveContext): BuildLimits {
  const recipe = drv.recipe.kind === "command" ? drv.recipe : undefined;
  const own = recipe?.timeout;
  const flag = commandLineTimeout(ctx);
  const useFlag = flag !== undefined && (own === undefined || flag < own);
  return {
    timeout: useFlag ? flag : own,
    maxSilentTime: recipe?.maxSilentTime,
    timeoutSource: useFlag ? "--build-timeout" : "the derivation's timeout",
  };
}

function commandLineTimeout(ctx: PrimitiveContext): number | undefined {
  const value = ctx.options["build-timeout"];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !(seconds > 0) || !Number.isFinite(seconds)) {
    throw new TsexecError(`--build-timeout expects a number of seconds greater than 0, got '${String(value)}'`);
  }
  return seconds;
}

interface BuildPaths extends BuildDirs {
  readonly cacheDir: string;
  readonly builds: string;
  readonly lock: string;
  /** This process's build directory. */
  readonly top: string;
}

function buildPaths(drv: Derivation, cacheDir: string): BuildPaths {
  const builds = join(cacheDir, "builds");
  const top = join(builds, `${drv.storeName}.${process.pid}`);
  const store = storeDir(cacheDir);
  return {
    cacheDir,
    store,
    builds,
    lock: join(builds, `${drv.storeName}.lock`),
    top,
    work: join(top, "work"),
    out: join(store, drv.storeName),
  };
}

/**
 * Holding the lock: sweep once per process, remove whatever an earlier build
 * of this derivation left (its unmarked output, its build directories), make
 * the empty build directory, write a file output.
 */
function prepareBuild(paths: BuildPaths, drv: Derivation, ctx: PrimitiveContext): void {
  makeDirectory(join(paths.store, validDir));
  sweepOnce(paths.cacheDir, ctx);
  // A marker left without its output goes first: while this build writes at the store path, no one may take it for built.
  rmSync(validMarker(paths.out), { force: true });
  removeTree(paths.out);
  removeBuildDirectories(paths.builds, drv.storeName);
  makeDirectory(paths.work);
  // The outputs this build reads: roots of tsexec gc while the build holds its lock (docs/gc.md).
  writeFileSync(join(paths.top, "inputs"), drv.inputs.map((input) => `${outputPath(input, paths.cacheDir)}\n`).join(""));
  storeStats.builds++;
  if (ctx.verbose) ctx.log(`building ${drv.storeName}`);
  if (drv.recipe.kind === "file") writeFileSync(paths.out, renderForStore(drv.recipe.text, paths.store));
}

/**
 * After a successful build: everything the build wrote becomes read-only as
 * it is (symlinks are left as written, never followed), then the marker
 * makes the output valid.
 */
function register(paths: BuildPaths): string {
  makeReadOnly(paths.out);
  writeFileAtomic(validMarker(paths.out), `${JSON.stringify({ path: paths.out, built: new Date().toISOString() })}\n`);
  return paths.out;
}

/** Removes this build's directory and, unless the output became valid, what it wrote; releases the lock. */
function discard(paths: BuildPaths, release: Release): void {
  try {
    removeTree(paths.top);
    if (!isBuilt(paths.out)) removeTree(paths.out);
  } finally {
    release();
  }
}

function removeBuildDirectories(builds: string, storeName: string): void {
  const prefix = `${storeName}.`;
  for (const entry of readdirSync(builds)) {
    if (entry.startsWith(prefix) && isBuildDirectoryName(entry.slice(prefix.length))) removeTree(join(builds, entry));
  }
}

/** `<pid>`: a build directory (`<store-name>.<pid>`), not the lock or its temporaries. */
function isBuildDirectoryName(suffix: string): boolean {
  return /^\d+$/.test(suffix);
}

/** Temporary files live for microseconds; one this old belongs to a dead process. */
const staleTemporaryMs = 60_000;

const swept = new Set<string>();

/** Sweeps `cacheDir` on the first build of this process there; a failure to sweep never fails a build. */
function sweepOnce(cacheDir: string, ctx: PrimitiveContext): void {
  if (swept.has(cacheDir)) return;
  swept.add(cacheDir);
  try {
    sweep(cacheDir);
  } catch (error) {
    if (ctx.verbose) ctx.log(`could not sweep the leftovers of killed builds in ${cacheDir}: ${(error as Error).message}`);
  }
}

/**
 * Removes what killed builds left, whatever derivation they built: a build
 * directory or an unmarked store path is removed only after taking that
 * derivation's lock (so no running build can lose its files, in any pid
 * namespace); temporary files (lock and marker temporaries) once old.
 */
export function sweep(cacheDir: string): void {
  const builds = join(cacheDir, "builds");
  const store = storeDir(cacheDir);
  const leftovers = new Map<string, string[]>(); // store name -> paths to remove under its lock
  const add = (storeName: string, path: string) => leftovers.set(storeName, [...(leftovers.get(storeName) ?? []), path]);
  for (const entry of readdirIfAny(builds)) {
    const path = join(builds, entry);
    if (entry.endsWith(".tmp")) {
      if (ageMs(path) > staleTemporaryMs) removeTree(path);
      continue;
    }
    const dot = entry.lastIndexOf(".");
    if (dot > 0 && isBuildDirectoryName(entry.slice(dot + 1))) add(entry.slice(0, dot), path);
  }
  const valid = new Set(readdirIfAny(join(store, validDir)));
  for (const entry of valid) {
    if (entry.endsWith(".tmp") && ageMs(join(store, validDir, entry)) > staleTemporaryMs) removeTree(join(store, validDir, entry));
  }
  for (const entry of readdirIfAny(store)) {
    if (!entry.startsWith(".") && !valid.has(entry)) add(entry, join(store, entry));
  }
  for (const [storeName, paths] of leftovers) {
    const lock = join(builds, `${storeName}.lock`);
    const release = tryLock(lock);
    if (release === undefined) continue; // being built right now
    try {
      for (const path of paths) {
        // A store path that became valid since the listing is an output: keep it.
        if (path.startsWith(store) && isBuilt(path)) continue;
        removeTree(path);
        storeStats.swept++;
      }
    } finally {
      release();
    }
  }
}

function readdirIfAny(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function exists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

function ageMs(path: string): number {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  return stat ? Date.now() - stat.mtimeMs : 0;
}
