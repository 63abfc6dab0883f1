/**
 * Install scripts of allowed packages, run as npm runs them: `preinstall`,
 * `install`, `postinstall` with `sh -c` in the package's directory, the
 * `node_modules/.bin` of it and of every directory above it (inside the tree)
 * on PATH, the user's npm settings as `npm_config_*` variables, and npm's
 * default for a package with a `binding.gyp` and neither an `install` nor a
 * `preinstall` script: `node-gyp rebuild`, with the node-gyp npm bundles.
 */
import { spawn } from "node:child_process";
import { mkdirSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, relative } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { removeTree } from "../../base/files.js";
import { beforeSpawn, stopChild, trackChild } from "../../base/children.js";
import { removeOnExit, stopSignal } from "../../base/shutdown.js";
import { readManifest } from "./bins.js";
import type { NpmConfig } from "./config.js";
import { printable } from "./tar.js";

/** npm's install script for a package that has a binding.gyp and no install script of its own. */
export const gypInstallScript = "node-gyp rebuild";

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() === true;

/** The scripts npm runs when it installs the package in `dir`, in order (npm's rule for binding.gyp included). */
export function installScripts(dir: string): { event: string; script: string }[] {
  const manifest = readManifest(dir);
  const declared = typeof manifest.scripts === "object" && manifest.scripts !== null ? (manifest.scripts as Record<string, unknown>) : {};
  const scripts: { event: string; script: string }[] = [];
  for (const event of ["preinstall", "install", "postinstall"]) {
    let script = declared[event];
    if (event === "install" && script === undefined && declared.preinstall === undefined && manifest.gypfile !== false && isFile(join(dir, "binding.gyp"))) {
      script = gypInstallScript;
    }
    if (typeof script === "string") scripts.push({ event, script });
  }
  return scripts;
}

/** Whether the package in `dir` has a binding.gyp that npm would build (checked only where the lock does not say). */
export function buildsWithGyp(dir: string): boolean {
  return isFile(join(dir, "binding.gyp")) && installScripts(dir).some((s) => s.script === gypInstallScript);
}

export type NodeGyp = { readonly found: string } | { readonly missing: string };

/**
 * The node-gyp npm would run: the `node-gyp` setting (npm sets
 * `npm_config_node_gyp` for its scripts), else the one bundled with npm,
 * looked for beside the npm that started us (`npm_execpath`), in the Node
 * installation running us (`<prefix>/lib/node_modules/npm`, or beside
 * node.exe), then beside each `npm` on PATH.
 */
export function findNodeGyp(configured: string | undefined, env: NodeJS.ProcessEnv = process.env, execPath: string = process.execPath): NodeGyp {
  if (configured) return isFile(configured) ? { found: configured } : { missing: `npm's node-gyp setting names ${printable(configured)}, which is not a file` };
  const bundled = (npmRoot: string) => join(npmRoot, "node_modules", "node-gyp", "bin", "node-gyp.js");
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  };
  const candidates: string[] = [];
  // npm-cli.js is `<npm>/bin/npm-cli.js`.
  const npmCli = env.npm_execpath ? real(env.npm_execpath) : undefined;
  if (npmCli) candidates.push(bundled(dirname(dirname(npmCli))));
  const node = real(execPath) ?? execPath;
  candidates.push(bundled(join(dirname(dirname(node)), "lib", "node_modules", "npm")), bundled(join(dirname(node), "node_modules", "npm")));
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const npm = dir ? real(join(dir, "npm")) : undefined;
    if (npm) candidates.push(bundled(dirname(dirname(npm))));
  }
  const found = candidates.find(isFile);
  if (found) return { found };
  return { missing: `no node-gyp was found (npm bundles one; looked beside ${printable(node)} and each npm on PATH)` };
}

/** The PATH entries npm gives a package's scripts: `node_modules/.bin` of its directory and of each above it, up to the tree's root. */
export function scriptPath(dir: string, treeRoot: string): string[] {
  const entries: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    entries.push(join(at, "node_modules", ".bin"));
    if (at === treeRoot || relative(treeRoot, at).startsWith("..") || dirname(at) === at) return entries;
  }
}

export interface ScriptedPackage {
  /** The package's own copy in the tree being assembled. */
  readonly dir: string;
  /** `name@version`, for messages. */
  readonly what: string;
  readonly name: string;
  readonly version: string;
}

/**
 * Runs the install scripts of `packages` (in the given order) in the tree at
 * `treeRoot`. `scratch` is a directory name for a `node-gyp` command on PATH
 * (under a name the store removes if we are killed), made only when needed.
 */
export async function runInstallScripts(packages: readonly ScriptedPackage[], treeRoot: string, config: NpmConfig, scratch: string): Promise<void> {
  const planned = packages.map((pkg) => ({ pkg, scripts: installScripts(pkg.dir) })).filter((p) => p.scripts.length > 0);
  if (planned.length === 0) return;
  const nodeGyp = findNodeGyp(config.setting("node-gyp"));
  for (const { pkg, scripts } of planned) {
    if ("missing" in nodeGyp && scripts.some((s) => s.script === gypInstallScript)) {
      throw new TsexecError(
        `${pkg.what} has a binding.gyp and no install script, so npm's default one builds it (${gypInstallScript}), but ${nodeGyp.missing}: install npm, or set node-gyp=<path to node-gyp.js> in .npmrc; nothing was installed`,
      );
    }
  }
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, ...config.scriptEnv(), npm_node_execpath: process.execPath, NODE: process.execPath };
  const extraPath: string[] = [];
  const removed = removeOnExit(scratch);
  try {
    if ("found" in nodeGyp) {
      // Scripts call `node-gyp` by name (`node-gyp rebuild`, `prebuild-install || node-gyp rebuild`): npm puts one on PATH.
      mkdirSync(scratch);
      writeFileSync(join(scratch, "node-gyp"), '#!/bin/sh\nexec "$npm_node_execpath" "$npm_config_node_gyp" "$@"\n', { mode: 0o755 });
      baseEnv.npm_config_node_gyp = nodeGyp.found;
      extraPath.push(scratch);
    }
    for (const { pkg, scripts } of planned) {
      for (const { event, script } of scripts) await run(pkg, event, script, treeRoot, baseEnv, extraPath);
    }
  } finally {
    removeTree(scratch);
    removed();
  }
}

/**
 * Runs one script in a process group of its own, registered with the run's
 * children (a signal stops it with its group), without blocking the event
 * loop: tsexec hears SIGINT and SIGTERM while a build takes minutes.
 */
function run(pkg: ScriptedPackage, event: string, script: string, treeRoot: string, baseEnv: NodeJS.ProcessEnv, extraPath: readonly string[]): Promise<void> {
  const path = [...scriptPath(pkg.dir, treeRoot), ...extraPath, dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);
  const failed = (how: string) => new TsexecError(`the ${event} script of ${pkg.what} (${printable(script)}) ${how}; nothing was installed`);
  const stopped = stopSignal();
  if (stopped !== undefined) return Promise.reject(failed(`was not started: tsexec received ${stopped}`));
  beforeSpawn();
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], {
      cwd: pkg.dir,
      stdio: ["ignore", 2, 2],
      detached: true, // a process group of its own: stopping it stops what it started
      env: {
        ...baseEnv,
        ...(process.env.TSEXEC_RUNS === undefined ? {} : { TSEXEC_RUNS: process.env.TSEXEC_RUNS }),
        PATH: path,
        npm_lifecycle_event: event,
        npm_lifecycle_script: script,
        npm_package_name: pkg.name,
        npm_package_version: pkg.version,
        npm_package_json: join(pkg.dir, "package.json"),
      },
    });
    trackChild(child);
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on("error", (error) => {
      spawnError = error;
      stopChild(child);
    });
    child.on("close", (code, signal) => {
      if (code === 0 && spawnError === undefined) return resolve();
      const how = spawnError ? `could not start (${spawnError.code ?? spawnError.message})` : signal ? `was killed by ${signal}` : `exited with ${code}`;
      reject(failed(how));
    });
  });
}
