/**
 * `tsexec shell REF#APP… [-c CMD ARGS…]` (Nix's `nix shell`): runs CMD
 * (default `$SHELL`) with those apps first on PATH, each pinned as a profile
 * pins it (src/inputs/profile/pin.ts), nothing installed. While it runs, what
 * the apps need is a root of `tsexec gc` (`<cache>/gcroots/<pid>-….json`).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, chmodSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { removeTree, uniqueSuffix, writeFileAtomic } from "../../base/files.js";
import { printable } from "../../base/printable.js";
import { launcherText, pinApp } from "../../inputs/profile/pin.js";
import type { ProfileApp } from "../../inputs/profile/generations.js";
import { UsageError } from "../options.js";
import { appReference } from "./run/app-target.js";
import type { CommandRun } from "./command.js";

const usage = "tsexec shell REF#APP… [-c CMD ARGS…]";
const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

export const run: CommandRun = async ({ args, ctx }) => {
  const dash = args.indexOf("-c");
  const refs = dash < 0 ? args : args.slice(0, dash);
  const command = dash < 0 ? [process.env.SHELL || "/bin/sh"] : args.slice(dash + 1);
  if (refs.length === 0) throw new UsageError(`shell needs at least one app: ${usage}`);
  if (command.length === 0) throw new UsageError(`-c needs a command: ${usage}`);
  const bad = refs.find((r) => r.startsWith("-"));
  if (bad !== undefined) throw new UsageError(`shell does not take '${printable(bad)}': ${usage}`);

  const apps: ProfileApp[] = [];
  for (const typed of refs) {
    const app = await pinApp(await appReference(typed, ctx, "shell"), ctx);
    if (apps.some((a) => a.name === app.name)) throw new TsexecError(`two apps named '${app.name}' in one shell: ${printable(typed)} and ${printable(apps.find((a) => a.name === app.name)!.reference)}`);
    apps.push(app);
  }
  const home = mkdtempSync(join(tmpdir(), "tsexec-shell-"));
  const gcroots = join(ctx.cacheDir, "gcroots");
  const rootFile = join(gcroots, `${uniqueSuffix()}.json`);
  try {
    mkdirSync(gcroots, { recursive: true });
    writeFileAtomic(rootFile, JSON.stringify({ roots: apps.flatMap((a) => a.roots) }));
    const bin = join(home, "bin");
    mkdirSync(bin);
    for (const app of apps) {
      writeFileSync(join(bin, app.name), launcherText(app));
      chmodSync(join(bin, app.name), 0o755);
    }
    return await runCommand(command, { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` });
  } finally {
    rmSync(rootFile, { force: true });
    removeTree(home);
  }
};

/** Runs the command in the foreground; its exit code is ours (128 + n after signal n). */
function runCommand(command: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: "inherit", env });
    // The terminal's ^C reaches the child (same process group): the shell decides what it means, we wait.
    const ignore = () => {};
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", ignore);
    process.on("SIGTERM", forward);
    process.on("SIGHUP", forward);
    const done = () => {
      process.off("SIGINT", ignore);
      process.off("SIGTERM", forward);
      process.off("SIGHUP", forward);
    };
    child.on("error", (error: NodeJS.ErrnoException) => {
      done();
      reject(new TsexecError(`cannot run '${printable(command[0]!)}' in the shell: ${error.code === "ENOENT" ? "no such command on PATH" : (error.code ?? error.message)}`));
    });
    child.on("exit", (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === null ? 0 : (signalNumbers[signal] ?? 0)));
    });
  });
}
