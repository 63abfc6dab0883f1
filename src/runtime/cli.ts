/**
 * The `tsexec` command: parse the command line, load the script, call it with
 * `{ args, lib }`, run the IO value it returns. Data flows one way:
 * CLI → loader → script → IO value → interpreter → primitives.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { isIO, type IO, type PrimitiveContext } from "../monad/io.js";
import { describeValue } from "../monad/describe.js";
import { setTracing } from "../monad/trace.js";
import { TsexecError, isTsexecError } from "./errors.js";
import { errorTrace, run } from "./interpreter.js";
import { makeContext, setAmbientContext } from "./context.js";
import { makeLib } from "./lib.js";
import { defaultExport, importModule, locateScript } from "./loader/index.js";
import { parseCommandLine, UsageError, type ParsedCommandLine } from "./options.js";
import { packageRoot, versionString } from "./package.js";

const tryHelp = "Try 'tsexec --help' for more information.";

/** Runs tsexec with `argv` (without node and the launcher); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
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
    if (isShowCommand(script, scriptArgs)) {
      if (scriptArgs.length !== 1) return reportUsage("show takes one git reference: tsexec show <reference>");
      const { showReference } = await import("./show.js");
      await showReference(scriptArgs[0]!, contextFor(flags));
      return 0;
    }
    await runScript(script, scriptArgs, flags);
    return 0;
  } catch (error) {
    return reportError(error, showTrace);
  }
}

/**
 * `tsexec show <reference>` is the subcommand only when a reference follows
 * `show`; a script file named `show` runs as `tsexec ./show` (or `tsexec show`
 * with no reference after it).
 */
function isShowCommand(script: string, scriptArgs: readonly string[]): boolean {
  if (script !== "show") return false;
  if (scriptArgs.length > 0) return looksLikeReference(scriptArgs[0]!);
  return !existsSync(script);
}

/** An argument written as a git reference (`git+https://…`, `github:…`) rather than a path. */
function looksLikeReference(arg: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(arg) && !existsSync(arg);
}

function contextFor(flags: ParsedCommandLine["flags"]) {
  const ctx = makeContext({
    cacheDir: typeof flags["cache-dir"] === "string" ? flags["cache-dir"] : undefined,
    verbose: flags.verbose === true,
    options: { ...flags, argv: process.argv },
  });
  setAmbientContext(ctx);
  return ctx;
}

async function runScript(script: string, scriptArgs: readonly string[], flags: ParsedCommandLine["flags"]): Promise<void> {
  const ctx = contextFor(flags);
  // A git reference is fetched (or found in the cache) and runs from its read-only checkout; args[0] stays as typed.
  const file = looksLikeReference(script)
    ? await (await import("./reference.js")).resolveReferenceScript(script, ctx)
    : locateScript(script);
  const namespace = await importModule(file, ctx.cacheDir);
  if (!("default" in namespace)) {
    throw new TsexecError(`${script} does not export a function (it has no default export): add \`export default ({ args, lib }) => ...\``);
  }
  const exported = defaultExport(namespace);
  if (typeof exported !== "function") {
    throw new TsexecError(`${script} does not export a function (it exports ${describeValue(exported)})`);
  }
  const program: unknown = exported({ args: [script, ...scriptArgs], lib: makeLib({ dir: dirname(file) }) });
  if (!isIO(program)) {
    const hint =
      describeValue(program) === "a Promise"
        ? ": a Promise is not an IO value (is the function async?); wrap asynchronous work in lib.task(() => promise)"
        : "";
    throw new TsexecError(`the function exported by ${script} returned ${describeValue(program)}, not an IO value${hint}`);
  }
  await runToTheEnd(program, ctx);
}

/**
 * Runs the program; if Node's event loop empties while the program still
 * waits on a step (a promise nothing will settle), that is an error naming the
 * step, not Node's silent exit 13.
 */
async function runToTheEnd(program: IO<unknown>, ctx: PrimitiveContext): Promise<void> {
  let waitingOn = "an asynchronous step";
  let stuck: (error: TsexecError) => void = () => {};
  const onEmptyLoop = () =>
    stuck(
      new TsexecError(
        `the program can never finish: it waits on ${waitingOn}, whose promise nothing is left to settle (no timer, socket or child process is pending)`,
      ),
    );
  process.once("beforeExit", onEmptyLoop);
  try {
    await Promise.race([
      run(program, ctx, (step) => (waitingOn = step)),
      new Promise<never>((_, reject) => (stuck = reject)),
    ]);
  } finally {
    process.off("beforeExit", onEmptyLoop);
  }
}

function reportUsage(message: string): number {
  process.stderr.write(`error: ${message}\n${tryHelp}\n`);
  return 1;
}

/** `error: <message>`, then where it happened: the script's stack (source-mapped) and, under --show-trace, the IO chain. */
function reportError(error: unknown, showTrace: boolean): number {
  const lines: string[] = [];
  if (isTsexecError(error) || error instanceof UsageError) {
    lines.push(`error: ${error.message}`);
  } else if (error instanceof Error) {
    lines.push(`error: ${error.message}`, ...userFrames(error));
  } else {
    lines.push(`error: ${String(error)}`);
  }
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
