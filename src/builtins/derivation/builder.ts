/**
 * Running a derivation's builder: its environment, its own process group
 * (registered with the runtime's child registry, so an interrupted tsexec
 * signals it), the launcher that kills it if tsexec dies (native/tsexec-launch.c),
 * its time limits, and the tail of its output for the error of a failed build.
 */
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { join } from "node:path";
import { childMark, trackChild } from "../../base/children.js";
import { TsexecError } from "../../base/errors.js";
import { getConfiguration } from "../../base/package.js";
import { renderForStore, type Derivation } from "./derivation.js";

/** nix's exit code for a failed build. */
export const buildFailureExitCode = 100;
/** nix's exit code for a build that ran out of time. */
export const buildTimeoutExitCode = 101;

/** How many lines of a failed builder's output the error shows. */
const tailLines = 25;

export interface BuilderCommand {
  readonly file: string;
  readonly args: string[];
  readonly options: SpawnOptions;
}

/** Where a build happens. */
export interface BuildDirs {
  readonly store: string;
  /** The build's working directory (also $HOME and $TMPDIR). */
  readonly work: string;
  /** The output: the final store path. */
  readonly out: string;
}

/**
 * The builder's environment is small and explicit, as in nix: `$PATH` (so
 * `sh` and `cc` are found), the build directory as `$HOME`/`$TMPDIR`,
 * `$NODE_API_INCLUDE`, `$TSEXEC_INCLUDE` (tsexec.h), `$out`, then the
 * derivation's env. Only the derivation's own fields are part of its hash.
 */
export function builderCommand(drv: Derivation, dirs: BuildDirs): BuilderCommand {
  const recipe = drv.recipe;
  if (recipe.kind !== "command") throw new Error("builderCommand: not a command derivation");
  const render = (text: string) => renderForStore(text, dirs.store);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: dirs.work,
    TMPDIR: dirs.work,
    NODE_API_INCLUDE: getConfiguration().nodeApiInclude,
    TSEXEC_INCLUDE: join(getConfiguration().datadir, "include"),
    TSEXEC_BUILD_TOP: dirs.work,
  };
  for (const [key, value] of recipe.env) env[key] = render(value);
  env.out = dirs.out;
  return {
    file: render(recipe.builder),
    args: recipe.args.map(render),
    options: { cwd: dirs.work, env, stdio: ["ignore", "pipe", "pipe"] },
  };
}

/** Time limits in seconds (undefined: none). */
export interface BuildLimits {
  readonly timeout: number | undefined;
  readonly maxSilentTime: number | undefined;
  /** Where the timeout came from, for the message. */
  readonly timeoutSource: string;
}

export interface BuilderResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error: Error | undefined;
  readonly output: string;
  /** The limit that stopped the build, if one did. */
  readonly exceeded?: "timeout" | "maxSilentTime";
}

/**
 * Runs the builder in a process group of its own, through `launcher` when
 * there is one, and kills the group when a limit is exceeded. When the
 * builder exits, whatever it left running in its group is killed too (as nix
 * does), so a background process cannot hold the build open.
 */
export function runBuilder(command: BuilderCommand, launcher: string | undefined, limits: BuildLimits, verbose: boolean): Promise<BuilderResult> {
  return new Promise((resolve) => {
    const [file, args] = launcher === undefined ? [command.file, command.args] : [launcher, [String(process.pid), command.file, ...command.args]];
    // The builder's environment is its own: it carries the run's mark explicitly (children.ts).
    const env = command.options.env === undefined ? undefined : { ...command.options.env, ...childMark() };
    const child = trackChild(childProcess().spawn(file, args, { ...command.options, ...(env === undefined ? {} : { env }), detached: true }));
    let output = "";
    let error: Error | undefined;
    let exceeded: BuilderResult["exceeded"];
    const stop = (limit: NonNullable<BuilderResult["exceeded"]>) => {
      exceeded ??= limit;
      killGroup(child);
    };
    const wall = limits.timeout === undefined ? undefined : setTimeout(() => stop("timeout"), limits.timeout * 1000);
    let silence: NodeJS.Timeout | undefined;
    const heard = () => {
      if (limits.maxSilentTime === undefined) return;
      clearTimeout(silence);
      silence = setTimeout(() => stop("maxSilentTime"), limits.maxSilentTime * 1000);
    };
    heard();
    const collect = (chunk: Buffer) => {
      heard();
      if (verbose) process.stderr.write(chunk);
      // Keep a bounded tail: only the last lines are shown.
      output = (output + chunk.toString("utf8")).slice(-65536);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", (e) => (error = e));
    child.on("exit", () => killGroup(child));
    child.on("close", (code, signal) => {
      clearTimeout(wall);
      clearTimeout(silence);
      resolve({ code, signal, error, output, ...(exceeded ? { exceeded } : {}) });
    });
  });
}

/** SIGKILL to the builder's whole group (the launcher leads it); quiet if the group is gone. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Nothing left in the group.
  }
}

/** The launcher's own message when it cannot run the builder (see native/tsexec-launch.c). */
const launcherCannotRun = /^tsexec-launch: cannot run '.*': (.*)$/m;

/** Throws the error of a failed build (exit 100) or of a build out of time (exit 101). */
export function checkBuilder(drv: Derivation, result: BuilderResult, dirs: BuildDirs, limits: BuildLimits, wroteOutput: () => boolean): void {
  const recipe = drv.recipe as Extract<Derivation["recipe"], { kind: "command" }>;
  const builder = renderForStore(recipe.builder, dirs.store);
  const launchFailure = launcherCannotRun.exec(result.output);
  const output = launchFailure ? result.output.replace(launcherCannotRun, "") : result.output;
  let problem: string | undefined;
  if (result.exceeded === "timeout") {
    problem = `it ran longer than its time limit of ${limits.timeout} s (${limits.timeoutSource}) and was killed with its process group`;
  } else if (result.exceeded === "maxSilentTime") {
    problem = `its builder printed nothing for ${limits.maxSilentTime} s (maxSilentTime) and was killed with its process group`;
  } else if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT" || (launchFailure && /No such file/.test(launchFailure[1]!))) {
    problem = `its builder '${builder}' was not found (is it on $PATH?)`;
  } else if (result.error || launchFailure) {
    problem = `its builder '${builder}' could not run: ${result.error?.message ?? launchFailure![1]}`;
  } else if (result.signal) {
    problem = `its builder '${builder}' was killed by signal ${result.signal}`;
  } else if (result.code !== 0) {
    problem = `its builder '${builder}' exited with code ${result.code}`;
  } else if (!wroteOutput()) {
    problem = `its builder '${builder}' succeeded but wrote nothing at $out`;
  }
  if (problem === undefined) return;
  const lines = output.replace(/\n$/, "").split("\n").slice(-tailLines);
  const tail = output.trim() === "" ? "  (the builder printed nothing)" : lines.map((line) => `  | ${line}`).join("\n");
  const exceeded = result.exceeded !== undefined;
  throw new TsexecError(
    `building '${drv.name}' (${drv.storeName}) ${exceeded ? "timed out" : "failed"}: ${problem}. Last lines of its output:\n${tail}\n` +
      `Nothing was added to the store; ${exceeded ? "raise the limit or make the build faster" : "fix the build"} and run again.`,
    exceeded ? buildTimeoutExitCode : buildFailureExitCode,
  );
}

/** node:child_process, loaded when a build runs: finding built outputs (the common case) never needs it. */
export function childProcess(): typeof import("node:child_process") {
  return process.getBuiltinModule("node:child_process");
}
