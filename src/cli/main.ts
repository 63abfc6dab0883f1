/**
 * The `tsexec` command: parse the command line, load the script, call it with
 * `{ args, lib }`, run the IO value it returns. Data flows one way:
 * CLI → loader → script → IO value → interpreter → primitives.
 */
import type { PrimitiveContext } from "../monad/io.js";
import { setTracing } from "../monad/trace.js";
import { isTsexecError } from "../base/errors.js";
import { errorTrace, failedTaskFunction, isInterruption } from "../runtime/interpreter.js";
import { functionLocation } from "../runtime/function-location.js";
import { makeContext, setAmbientContext } from "../base/context.js";
import { findCommand } from "./commands/index.js";
import { parseCommandLine, UsageError, type Flags, type ParsedCommandLine } from "./options.js";
import { packageRoot, versionString } from "../base/package.js";
import { handleStopSignals, stopExitCode } from "../base/shutdown.js";

const tryHelp = "Try 'tsexec --help' for more information.";

/**
 * Runs tsexec with `argv` (without node and the launcher); resolves to the exit code.
 * SIGINT, SIGTERM and SIGHUP are heard from here on, whatever tsexec is doing
 * (src/base/shutdown.ts): a run they stop exits 130, 143 or 129.
 */
export async function main(argv: readonly string[]): Promise<number> {
  handleStopSignals();
  const code = await command(argv);
  return stopExitCode() ?? code;
}

async function command(argv: readonly string[]): Promise<number> {
  let commandLine: ParsedCommandLine;
  try {
    commandLine = parseCommandLine(argv);
  } catch (error) {
    return reportUsage((error as Error).message);
  }
  const { flags, script, scriptArgs } = commandLine;
  if (flags.help) {
    const { helpText } = await import("./help.js");
    process.stdout.write(await helpText());
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`tsexec ${versionString()} (Node ${process.version})\n`);
    return 0;
  }
  if (script === undefined) return reportUsage("no script given");
  const showTrace = flags["show-trace"] === true;
  setTracing(showTrace);
  try {
    const ctx = contextFor(flags);
    const store = flags.store ?? process.env.TSEXEC_STORE;
    if (store) await (await import("./store-choice.js")).chooseStore(store, ctx);
    const command = findCommand(script, scriptArgs);
    if (command !== undefined && scriptArgs.some((arg) => arg === "--help" || arg === "-h")) {
      const { commandHelpText } = await import("./help.js");
      process.stdout.write(commandHelpText(command));
      return 0;
    }
    if (command !== undefined) return await (await command.load())({ args: scriptArgs, flags, ctx });
    const { runScript } = await import("./commands/run.js");
    await runScript(script, scriptArgs, ctx);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return reportUsage(error.message);
    return reportError(error, showTrace);
  }
}

function contextFor(flags: Flags): PrimitiveContext {
  const ctx = makeContext({
    cacheDir: typeof flags["cache-dir"] === "string" ? flags["cache-dir"] : undefined,
    verbose: flags.verbose === true,
    options: { ...flags, argv: process.argv },
  });
  setAmbientContext(ctx);
  return ctx;
}

function reportUsage(message: string): number {
  process.stderr.write(`error: ${message}\n${tryHelp}\n`);
  return 1;
}

/** `error: <message>`, then where it happened: the script's stack (source-mapped) and, under --show-trace, the IO chain. */
function reportError(error: unknown, showTrace: boolean): number {
  // A signal or lib.exit: the program has already said what it had to.
  if (isInterruption(error)) return error.exitCode;
  // Whatever failed after a signal failed because of it (a killed git, an install script): not news.
  const stopped = stopExitCode();
  if (stopped !== undefined) return stopped;
  const lines: string[] = [];
  if (isTsexecError(error) || error instanceof UsageError) {
    lines.push(`error: ${error.message}`);
  } else if (error instanceof Error) {
    lines.push(`error: ${error.message}`, ...userFrames(error));
  } else {
    lines.push(`error: ${String(error)}`);
  }
  // A rejected task's error has no stack in the script: name the line that built the task.
  const task = failedTaskFunction(error);
  const taskSite = task === undefined || showTrace ? undefined : functionLocation(task);
  if (taskSite !== undefined) lines.push(`    in the lib.task built at ${taskSite}`);
  if (showTrace) {
    lines.push(...errorTrace(error).map((line) => `  ${line}`));
    for (let cause = (error as Error)?.cause; cause instanceof Error; cause = cause.cause) {
      lines.push(`  caused by: ${cause.message}`);
    }
  }
  process.stderr.write(lines.join("\n") + "\n");
  return isTsexecError(error) ? error.exitCode : 1;
}

const ownCode = [`${packageRoot}/dist/`, `${packageRoot}/shebang/`];

/** The stack frames of the user's code: tsexec's and Node's own frames are noise. */
function userFrames(error: Error): string[] {
  return (error.stack ?? "")
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .filter((line) => !ownCode.some((dir) => line.includes(dir)) && !/\(node:|at node:|\(native\)/.test(line))
    .map((line) => line.replace(/^\s+/, "    "));
}
