/**
 * `lib.builtins.reexec(path)`: re-executes tsexec from `path` (a pinned
 * launcher, or a derivation whose output is one: built first) unless this
 * process already runs from it.
 *
 * - "Already runs from it" compares real paths of `path` and of the launcher
 *   this process started from (process.argv[1]); nix-exec compared strings,
 *   so under `#!/usr/bin/env nix-exec` it always re-executed once.
 * - Otherwise a real execve(2) through koffi: same PID, the original
 *   arguments with argv[0] = path, the current environment. Where libc cannot
 *   be loaded, a child process stands in (stdio, signals and exit code forwarded).
 * - A process that was itself re-executed and would re-execute again to
 *   another path is an exec loop: refused. The marker is TSEXEC_REEXEC =
 *   `<pid>:<from>:<to>`; execve keeps the PID, so a child tsexec the new
 *   process spawns (another PID) is not taken for a re-executed one.
 */
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { bind, io, unit, primitive, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { outputOf } from "../derivation/index.js";
import { isDerivation, type Derivation } from "../derivation/derivation.js";
import { koffi, type KoffiModule } from "../dlopen/koffi.js";

/** Anything else with an output path that already exists (a derivation-like object from elsewhere). */
export interface HasOutPath {
  readonly outPath: string;
}

export const reexecMarker = "TSEXEC_REEXEC";

/** `lib.builtins.reexec` for a script in `dir` (relative paths resolve against it). */
export function makeReexec(dir: string): (path: string | Derivation | HasOutPath) => IO<null> {
  return function reexec(path: string | Derivation | HasOutPath): IO<null> {
    const shown = typeof path === "string" ? path : isDerivation(path) ? path.storeName : describeValue(path);
    return primitive(`reexec ${shown}`, (ctx) => {
      if (ctx.synchronous) throw new TsexecError("cannot reexec within unsafePerformIO: sequence lib.builtins.reexec in the program tsexec runs");
      if (!isDerivation(path)) return reexecInto(targetPath(path, dir), ctx);
      // A derivation is built first (unless it is), then its output is the launcher.
      return bind(outputOf(path, ctx), (built) => reexecInto(targetPath(built, dir), ctx));
    });
  };
}

function reexecInto(target: string, ctx: PrimitiveContext): IO<null> {
  const launcher = launcherPath(ctx);
  if (launcher !== undefined && sameFile(target, launcher)) return unit(null);
  return io(() => execute(target, launcher, ctx));
}

function targetPath(path: string | HasOutPath, dir: string): string {
  let raw: string;
  if (typeof path === "string") raw = path;
  else if (typeof path === "object" && path !== null && typeof (path as HasOutPath).outPath === "string") raw = (path as HasOutPath).outPath;
  else throw new TsexecError(`lib.builtins.reexec expects a path or a derivation (an object with outPath), got ${describeValue(path)}`);
  if (raw === "") throw new TsexecError("lib.builtins.reexec: the path is empty");
  const absolute = resolve(dir, raw);
  let stat;
  try {
    stat = statSync(absolute);
  } catch {
    throw new TsexecError(`lib.builtins.reexec: '${absolute}' does not exist${typeof path === "string" ? "" : " (build the derivation first)"}`);
  }
  if (!stat.isFile()) throw new TsexecError(`lib.builtins.reexec: '${absolute}' is not a file: give the path of a tsexec launcher`);
  try {
    accessSync(absolute, constants.X_OK);
  } catch {
    throw new TsexecError(`lib.builtins.reexec: '${absolute}' is not executable (chmod +x it)`);
  }
  return absolute;
}

/** The launcher this process was started from: argv[1] (argv[0] is node). */
function launcherPath(ctx: PrimitiveContext): string | undefined {
  const argv = (ctx.options.argv as readonly string[] | undefined) ?? process.argv;
  return argv[1];
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function execute(target: string, launcher: string | undefined, ctx: PrimitiveContext): never {
  const argv = (ctx.options.argv as readonly string[] | undefined) ?? process.argv;
  const from = launcher === undefined ? "?" : realpathOr(launcher);
  const to = realpathOr(target);
  const previous = parseMarker(process.env[reexecMarker]);
  if (previous && previous.pid === process.pid) {
    throw new TsexecError(
      `reexec loop: this tsexec was re-executed from ${previous.from} into ${previous.to}, runs from ${from}, and would now re-execute into ${to}; ` +
        `make lib.builtins.reexec's path the launcher it re-executes into (or start that launcher directly)`,
    );
  }
  const args = [target, ...argv.slice(2)];
  const env = { ...process.env, [reexecMarker]: `${process.pid}:${from}:${to}` };
  if (ctx.verbose) ctx.log(`exec ${args.map((a) => JSON.stringify(a)).join(" ")}`);
  const failure = execve(target, args, env);
  if (failure === "unsupported") return runAsChild(target, args, env);
  throw new TsexecError(`executing '${target}': ${failure}`);
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function parseMarker(value: string | undefined): { pid: number; from: string; to: string } | undefined {
  const m = value === undefined ? null : /^(\d+):(.*):(.*)$/.exec(value);
  return m ? { pid: Number(m[1]), from: m[2]!, to: m[3]! } : undefined;
}

type Execve = (path: string, argv: (string | null)[], envp: (string | null)[]) => number;
type Fcntl = (fd: number, cmd: number, ...rest: unknown[]) => number;

// Linux values (fcntl.h); macOS differs only in O_NONBLOCK.
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const O_NONBLOCK = process.platform === "darwin" ? 0x4 : 0o4000;

/**
 * libuv marks stdin/stdout/stderr close-on-exec (and may make them
 * non-blocking): undo both, or the new program would start with no stdio.
 */
function handStdioOver(fcntl: Fcntl): () => void {
  const saved: [fd: number, fdFlags: number, flags: number][] = [];
  for (const fd of [0, 1, 2]) {
    const fdFlags = fcntl(fd, F_GETFD);
    const flags = fcntl(fd, F_GETFL);
    saved.push([fd, fdFlags, flags]);
    if (fdFlags >= 0 && fdFlags & FD_CLOEXEC) fcntl(fd, F_SETFD, "int", fdFlags & ~FD_CLOEXEC);
    if (flags >= 0 && flags & O_NONBLOCK) fcntl(fd, F_SETFL, "int", flags & ~O_NONBLOCK);
  }
  // If execve fails, Node carries on with its descriptors as they were.
  return () => {
    for (const [fd, fdFlags, flags] of saved) {
      if (fdFlags >= 0) fcntl(fd, F_SETFD, "int", fdFlags);
      if (flags >= 0) fcntl(fd, F_SETFL, "int", flags);
    }
  };
}

/** Calls execve(2); returns why it failed (it only returns on failure), or "unsupported" without libc. */
function execve(path: string, argv: string[], env: NodeJS.ProcessEnv): string {
  let ffi: KoffiModule;
  let call: Execve;
  let strerror: (errno: number) => string;
  let fcntl: Fcntl;
  try {
    ffi = koffi();
    const libc = ffi.load(process.platform === "darwin" ? "libc.dylib" : "libc.so.6");
    call = libc.func("int execve(const char *path, const char **argv, const char **envp)") as Execve;
    strerror = libc.func("const char *strerror(int errnum)") as (errno: number) => string;
    fcntl = libc.func("int fcntl(int fd, int cmd, ...)") as Fcntl;
  } catch {
    return "unsupported";
  }
  const envp = Object.entries(env)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${value}`);
  // Output written so far is not lost: on Linux, Node writes stdout/stderr to files,
  // pipes and terminals synchronously, so nothing waits in JS buffers.
  const restoreStdio = handStdioOver(fcntl);
  call(path, [...argv, null], [...envp, null]);
  const errno = ffi.errno();
  restoreStdio();
  return strerror(errno);
}

/**
 * The fallback without execve: run `target` as a child sharing stdio and the
 * process group (so terminal signals reach it), then exit with its status or signal.
 */
function runAsChild(target: string, args: string[], env: NodeJS.ProcessEnv): never {
  const { spawnSync } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  const result = spawnSync(target, args.slice(1), { stdio: "inherit", env, argv0: target });
  if (result.error) throw new TsexecError(`executing '${target}': ${result.error.message}`);
  if (result.signal) process.kill(process.pid, result.signal);
  process.exit(result.status ?? 1);
}
