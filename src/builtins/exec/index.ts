/**
 * `lib.exec(file, args, options)`: runs a program without a shell and yields
 * `{ stdout, stderr, exitCode, signal }`.
 *
 * Each child gets a process group of its own (`detached: true`) and is
 * registered with the runtime (src/base/children.ts), so interrupting the
 * step (a signal, a failed sibling in lib.all, a lost race, lib.timeout)
 * stops the whole group: SIGTERM, then SIGKILL after the grace period. The
 * step ends only once the child has exited, so nothing outlives it.
 */
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { suspendStep, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { beforeSpawn, stopChild, trackChild } from "../../base/children.js";
import { formatCommandLine, printable } from "./quote.js";

export interface ExecOptions {
  /** The working directory (default: tsexec's). */
  readonly cwd?: string;
  /** Variables added to the environment (`undefined` removes one). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Start from an empty environment instead of tsexec's (then `env` is all the child sees). */
  readonly clearEnv?: boolean;
  /** Written to the child's stdin, which is then closed (default: stdin is /dev/null). */
  readonly input?: string | Uint8Array;
  /** Milliseconds before the child is stopped and the step fails. */
  readonly timeout?: number;
  /** "inherit": the child writes to tsexec's stdout and stderr (nothing is captured). */
  readonly stdio?: "pipe" | "inherit";
  /** How stdout and stderr are decoded (default "utf8"). */
  readonly encoding?: BufferEncoding;
  /** Yield the result of a non-zero exit or a signal instead of failing. */
  readonly nothrow?: boolean;
  // Streaming (run by ./pipeline.ts, which lib.exec and lib.$ send such commands to):
  /** Called with each line of the child's stdout and stderr as it arrives, without its newline. */
  readonly onLine?: (line: string, stream: LineStream) => void;
  /** Implies stdio "inherit": each line the child writes reaches the terminal whole, after this prefix. */
  readonly prefix?: string;
  /** Never logged, even under --verbose. */
  readonly quiet?: boolean;
  /** Logged as it starts (as --verbose does), its output echoed to stderr line by line as it arrives. */
  readonly verbose?: boolean;
  /** The most bytes stdout and stderr may hold, together (default 256 MiB): over it the child is stopped and the step fails. */
  readonly maxBuffer?: number;
}

/** lib.exec's default output cap: well under what one string can hold in V8 (512 MiB). */
export const defaultMaxBuffer = 256 * 1024 * 1024;

/** The failure of a command whose kept output went over `maxBuffer` bytes. */
export function outputTooLarge(command: string, maxBuffer: number): TsexecError {
  return new TsexecError(`${command} wrote more than ${maxBuffer} bytes to stdout and stderr (lib.exec's maxBuffer option; default 256 MiB); it was stopped. Raise maxBuffer, or send the output to a file`);
}

/** Which of a child's outputs a line came from (`onLine`'s second argument). */
export type LineStream = "stdout" | "stderr";

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code, or null when a signal ended the child. */
  readonly exitCode: number | null;
  /** The signal that ended the child, or null. */
  readonly signal: NodeJS.Signals | null;
  /** The command line, quoted as a shell would need it (for messages). */
  readonly command: string;
}

/** A failed command: the message names the command line, the exit code or signal and the end of stderr. */
export class ExecError extends TsexecError {
  constructor(
    message: string,
    readonly result: ExecResult,
  ) {
    super(message);
  }
}

const optionNames = new Set(["cwd", "env", "clearEnv", "input", "timeout", "stdio", "encoding", "nothrow", "onLine", "prefix", "quiet", "verbose", "maxBuffer"]);

/** `exec(file, args?, options?)`: see the file's comment. */
export function exec(file: string, args: readonly (string | number)[] = [], options: ExecOptions = {}): IO<ExecResult> {
  const { argv, command } = checkCommand(file, args, options);
  return suspendStep<ExecResult>(command, (ctx, done) => spawnCommand(file, argv, options, command, ctx, done));
}

/** Checks what `exec` was given; yields the arguments as strings and the command line for messages. */
export function checkCommand(file: string, args: readonly (string | number)[], options: ExecOptions): { argv: string[]; command: string } {
  if (typeof file !== "string" || file === "") {
    throw new TypeError(`lib.exec expects the program to run (a non-empty string) as its first argument, got ${describeValue(file)}`);
  }
  if (!Array.isArray(args)) {
    throw new TypeError(`lib.exec expects an array of arguments as its second argument, got ${describeValue(args)}`);
  }
  const argv = args.map((arg, i) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number") return String(arg);
    throw new TypeError(`lib.exec: argument ${i} of ${file} is ${describeValue(arg)}, not a string`);
  });
  checkOptions(options);
  return { argv, command: formatCommandLine([file, ...argv]) };
}

function checkOptions(options: ExecOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`lib.exec expects an options object as its third argument, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!optionNames.has(key)) throw new TypeError(`lib.exec: unknown option '${key}' (known: ${[...optionNames].join(", ")})`);
  }
  const { timeout, stdio, input, maxBuffer } = options;
  if (maxBuffer !== undefined && (typeof maxBuffer !== "number" || !(maxBuffer > 0))) {
    throw new TypeError(`lib.exec: maxBuffer must be a positive number of bytes, got ${describeValue(maxBuffer)}`);
  }
  if (timeout !== undefined && (typeof timeout !== "number" || !(timeout > 0))) {
    throw new TypeError(`lib.exec: timeout must be a positive number of milliseconds, got ${describeValue(timeout)}`);
  }
  if (stdio !== undefined && stdio !== "pipe" && stdio !== "inherit") {
    throw new TypeError(`lib.exec: stdio must be "pipe" or "inherit", got ${describeValue(stdio)}`);
  }
  if (input !== undefined && typeof input !== "string" && !(input instanceof Uint8Array)) {
    throw new TypeError(`lib.exec: input must be a string or a Buffer, got ${describeValue(input)}`);
  }
  checkStreamingOptions(options);
}

function checkStreamingOptions({ onLine, prefix, stdio, quiet, verbose }: ExecOptions): void {
  if (onLine !== undefined && typeof onLine !== "function") {
    throw new TypeError(`lib.exec: onLine must be a function (line, stream) => void, got ${describeValue(onLine)}`);
  }
  if (prefix !== undefined && typeof prefix !== "string") throw new TypeError(`lib.exec: prefix must be a string, got ${describeValue(prefix)}`);
  if (prefix !== undefined && stdio === "pipe") {
    throw new TypeError(`lib.exec: prefix is for output that reaches the terminal (stdio: "inherit"), but stdio is "pipe"`);
  }
  for (const [name, value] of [["quiet", quiet], ["verbose", verbose]] as const) {
    if (value !== undefined && typeof value !== "boolean") throw new TypeError(`lib.exec: ${name} must be true or false, got ${describeValue(value)}`);
  }
}

export function childEnvironment(options: ExecOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = options.clearEnv ? {} : { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = String(value);
  }
  return env;
}

function spawnCommand(
  file: string,
  args: string[],
  options: ExecOptions,
  command: string,
  ctx: PrimitiveContext,
  done: (failed: boolean, value: unknown) => void,
): () => void {
  if ((ctx.verbose || options.verbose) && !options.quiet) ctx.log(`$ ${command}`);
  beforeSpawn(); // before the environment is copied: the child carries the run's mark
  const inherit = options.stdio === "inherit";
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env || options.clearEnv ? childEnvironment(options) : process.env,
    stdio: [options.input === undefined ? (inherit ? "inherit" : "ignore") : "pipe", inherit ? "inherit" : "pipe", inherit ? "inherit" : "pipe"],
    detached: true, // a process group of its own: stopping the step stops its grandchildren too
  };
  const child: ChildProcess = process.getBuiltinModule("node:child_process").spawn(file, args, spawnOptions);
  trackChild(child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const maxBuffer = options.maxBuffer ?? defaultMaxBuffer;
  let buffered = 0;
  let overflowed = false;
  const collect = (into: Buffer[]) => (chunk: Buffer) => {
    if (overflowed) return;
    buffered += chunk.length;
    if (buffered <= maxBuffer) into.push(chunk);
    else {
      // What is kept so far is dropped too: the step fails, and memory is not held for a message.
      overflowed = true;
      stdout.length = stderr.length = 0;
      stop();
    }
  };
  child.stdout?.on("data", collect(stdout));
  child.stderr?.on("data", collect(stderr));
  if (options.input !== undefined && child.stdin) {
    child.stdin.on("error", () => {}); // a child that does not read its input (EPIPE) is not an error of ours
    child.stdin.end(options.input);
  }
  let spawnError: Error | undefined;
  let timedOut = false;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    stopChild(child);
  };
  const timer = options.timeout === undefined ? undefined : setTimeout(() => ((timedOut = true), stop()), options.timeout);
  child.on("error", (error) => (spawnError = error));
  // Once a stopped child has exited, whatever still holds its pipes (a grandchild outside its group) is not waited for.
  child.on("exit", () => {
    if (stopping) for (const stream of [child.stdout, child.stderr]) stream?.destroy();
  });
  child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
    if (timer !== undefined) clearTimeout(timer);
    if (spawnError !== undefined) return done(true, cannotRun(file, command, spawnError, options.cwd));
    if (overflowed) {
      return done(true, outputTooLarge(command, maxBuffer));
    }
    try {
      finish(code, signal);
    } catch (error) {
      // Node's own limits (a string too long to decode ...): a failure of this step, which
      // lib.attempt catches and finalizers outlive, never a crash of tsexec.
      done(true, new TsexecError(`${command}: its output could not be read: ${printable(String((error as Error)?.message ?? error))}`));
    }
  });
  const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
    const encoding = options.encoding ?? "utf8";
    const result: ExecResult = {
      stdout: Buffer.concat(stdout).toString(encoding),
      stderr: Buffer.concat(stderr).toString(encoding),
      exitCode: code,
      signal,
      command,
    };
    const tail = inherit ? "" : stderrTail(result);
    if (timedOut) return done(true, new ExecError(`${command} did not finish within ${options.timeout} ms (its timeout option); it was stopped${tail}`, result));
    if ((code === 0 && signal === null) || options.nothrow) return done(false, result);
    const how = signal !== null ? `was killed by signal ${signal}` : `failed with exit code ${code}`;
    done(true, new ExecError(`${command} ${how}${tail}`, result));
  };
  return stop;
}

export function cannotRun(file: string, command: string, error: Error, cwd: string | undefined): TsexecError {
  const code = (error as NodeJS.ErrnoException).code;
  // Node says ENOENT for a missing working directory too: tell them apart.
  if (code === "ENOENT" && cwd !== undefined && !isDirectory(cwd)) {
    return new TsexecError(`cannot run ${command}: its working directory ${printable(cwd)} does not exist`);
  }
  if (code === "ENOENT") return new TsexecError(`cannot run ${command}: ${printable(file)} was not found (is it installed and on $PATH?)`);
  if (code === "EACCES") return new TsexecError(`cannot run ${command}: ${printable(file)} is not executable`);
  return new TsexecError(`cannot run ${command}: ${printable(error.message)}`);
}

function isDirectory(path: string): boolean {
  try {
    return process.getBuiltinModule("node:fs").statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const tailLines = 10;

/** `; the last lines of its stderr:\n  | ...`, control characters shown as escapes. */
export function stderrTail(result: ExecResult): string {
  const text = result.stderr.replace(/\s+$/, "");
  if (text === "") return " (its stderr was empty)";
  const lines = text.split("\n").slice(-tailLines);
  return `; the last lines of its stderr:\n${lines.map((line) => `  | ${printable(line)}`).join("\n")}`;
}
