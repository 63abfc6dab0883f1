/**
 * Commands whose output is read as it comes, and pipes between commands,
 * without a shell: what zx's `$` and execa give, as IO values.
 *
 * - `onLine(line, stream)` sees each line of stdout and stderr as it arrives.
 * - `prefix` (with stdio "inherit") writes each line to the terminal whole,
 *   after the prefix: parallel commands interleave by lines, never inside one.
 * - `verbose` logs the command and echoes its lines; `quiet` is never logged.
 * - `a.pipe(b)`: the stdout of `a` is the stdin of `b`, a pipe between the two
 *   children as a shell makes it (the bytes never pass through tsexec). Every
 *   child is tracked and stopped like any `lib.exec` child; the step ends once
 *   all have exited, and fails if any failed, naming it (a writer whose
 *   reader ended early too, as with execa or bash's pipefail: `nothrow` on it
 *   accepts that).
 *
 * Plain commands stay with ./index.ts's lighter spawner (./template.ts's
 * `makeExec` sends each command to the one it needs); this module is loaded
 * when a script first streams or pipes (src/cli/on-first-use.ts).
 */
import type { ChildProcess, StdioOptions } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { suspendStep, type IO, type PrimitiveContext } from "../../monad/io.js";
import { beforeSpawn, stopChild, trackChild } from "../../base/children.js";
import { TsexecError } from "../../base/errors.js";
import { ExecError, cannotRun, childEnvironment, defaultMaxBuffer, outputTooLarge, stderrTail, type ExecOptions, type ExecResult } from "./index.js";

/** One command of a pipeline. */
export interface Stage {
  readonly file: string;
  readonly args: readonly string[];
  readonly options: ExecOptions;
  /** Its command line, quoted (for messages). */
  readonly command: string;
}

/** Runs the stages as one pipeline; yields the last command's result (named by the whole pipeline). */
export function runStages(stages: readonly Stage[]): IO<ExecResult> {
  const command = stages.map((stage) => stage.command).join(" | ");
  return suspendStep<ExecResult>(command, (ctx, done) => startStages(stages, command, ctx, done));
}

/** A running stage: its child and what it has said. */
interface Running {
  readonly stage: Stage;
  readonly child: ChildProcess;
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
  spawnError?: Error;
  timer?: ReturnType<typeof setTimeout>;
  timedOut: boolean;
  closed: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

function startStages(
  stages: readonly Stage[],
  pipeline: string,
  ctx: PrimitiveContext,
  done: (failed: boolean, value: unknown) => void,
): () => void {
  const running: Running[] = [];
  let callbackError: { error: unknown } | undefined;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const r of running) stopChild(r.child);
  };
  const finish = (): void => {
    if (running.some((r) => !r.closed)) return;
    for (const r of running) if (r.timer !== undefined) clearTimeout(r.timer);
    if (callbackError !== undefined) return done(true, callbackError.error);
    done(...outcome(running, pipeline));
  };
  stages.forEach((stage, i) => {
    const r = spawnStage(stage, i === stages.length - 1, i === 0 ? undefined : running[i - 1]!.child, ctx, (error) => {
      callbackError ??= { error };
      stop();
    });
    running.push(r);
    const { timeout } = stage.options;
    if (timeout !== undefined) r.timer = setTimeout(() => ((r.timedOut = true), stop()), timeout);
    r.child.on("error", (error) => (r.spawnError = error));
    // Once a stopped child has exited, whatever still holds its pipes (a grandchild outside its group) is not waited for.
    r.child.on("exit", () => {
      if (stopping) for (const stream of [r.child.stdout, r.child.stderr]) stream?.destroy();
    });
    r.child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      r.closed = true;
      r.exitCode = code;
      r.signal = signal;
      finish();
    });
  });
  return stop;
}

/** Spawns one stage, its stdin the stdout of `previous` (the pipe passes to it: tsexec lets go of its end). */
function spawnStage(stage: Stage, last: boolean, previous: ChildProcess | undefined, ctx: PrimitiveContext, fail: (error: unknown) => void): Running {
  const { options } = stage;
  if ((ctx.verbose || options.verbose) && !options.quiet) ctx.log(`$ ${stage.command}`);
  const inherit = options.stdio === "inherit" || options.prefix !== undefined;
  // With a prefix or onLine, tsexec reads the lines and writes them to the terminal itself.
  const forward = inherit && (options.prefix !== undefined || options.onLine !== undefined);
  const direct = inherit && !forward;
  const stdin = previous?.stdout ?? (options.input !== undefined ? "pipe" : inherit ? "inherit" : "ignore");
  const stdio: StdioOptions = [stdin, !last ? "pipe" : direct ? "inherit" : "pipe", direct ? "inherit" : "pipe"];
  beforeSpawn(); // before the environment is copied: the child carries the run's mark
  const child: ChildProcess = process.getBuiltinModule("node:child_process").spawn(stage.file, [...stage.args], {
    cwd: options.cwd,
    env: options.env || options.clearEnv ? childEnvironment(options) : process.env,
    stdio,
    detached: true, // a process group of its own: stopping the step stops its grandchildren too
  });
  trackChild(child);
  previous?.stdout?.destroy();
  const r: Running = { stage, child, stdout: [], stderr: [], timedOut: false, closed: false, exitCode: null, signal: null };
  const echo = options.verbose === true && !options.quiet && !inherit;
  const encoding = options.encoding ?? "utf8";
  // The same cap as lib.exec's: over it, what is kept is dropped and the step fails.
  const maxBuffer = options.maxBuffer ?? defaultMaxBuffer;
  let buffered = 0;
  const keepOutput = (chunks: Buffer[], chunk: Buffer): void => {
    if (buffered > maxBuffer) return;
    buffered += chunk.length;
    if (buffered <= maxBuffer) return void chunks.push(chunk);
    r.stdout.length = r.stderr.length = 0;
    fail(outputTooLarge(stage.command, maxBuffer));
  };
  const watch = (stream: "stdout" | "stderr", chunks: Buffer[], keep: boolean): void => {
    const source = child[stream];
    if (source === null || (stream === "stdout" && !last)) return;
    const terminal = stream === "stdout" ? process.stdout : process.stderr;
    const prefix = options.prefix ?? "";
    const split =
      options.onLine !== undefined || forward || echo
        ? new LineSplitter(encoding, (line) => {
            if (options.onLine !== undefined) {
              try {
                options.onLine(line, stream);
              } catch (error) {
                fail(error);
              }
            }
            if (forward) terminal.write(`${prefix}${line}\n`);
            else if (echo) process.stderr.write(`${prefix}${line}\n`);
          })
        : undefined;
    source.on("data", (chunk: Buffer) => {
      if (keep) keepOutput(chunks, chunk);
      split?.push(chunk);
    });
    source.on("end", () => split?.end());
  };
  // Output that goes to the terminal is not kept, as with stdio "inherit".
  watch("stdout", r.stdout, !inherit);
  watch("stderr", r.stderr, !inherit);
  if (options.input !== undefined && child.stdin && previous === undefined) {
    child.stdin.on("error", () => {}); // a child that does not read its input (EPIPE) is not an error of ours
    child.stdin.end(options.input);
  }
  return r;
}

/** The pipeline's outcome once every child has closed: the first failure in order, else the last result. */
function outcome(running: readonly Running[], pipeline: string): [boolean, unknown] {
  const inPipeline = (): string => (running.length > 1 ? ` (in ${pipeline})` : "");
  const result = (r: Running, command: string): ExecResult => {
    const encoding = r.stage.options.encoding ?? "utf8";
    return {
      stdout: Buffer.concat(r.stdout).toString(encoding),
      stderr: Buffer.concat(r.stderr).toString(encoding),
      exitCode: r.exitCode,
      signal: r.signal,
      command,
    };
  };
  const spawnFailed = running.find((r) => r.spawnError !== undefined);
  if (spawnFailed !== undefined) {
    const error = cannotRun(spawnFailed.stage.file, spawnFailed.stage.command, spawnFailed.spawnError!, spawnFailed.stage.options.cwd);
    return [true, running.length > 1 ? new TsexecError(`${error.message}${inPipeline()}`) : error];
  }
  const timedOut = running.find((r) => r.timedOut);
  if (timedOut !== undefined) {
    const r = result(timedOut, timedOut.stage.command);
    const tail = timedOut.stage.options.stdio === "inherit" || timedOut.stage.options.prefix !== undefined ? "" : stderrTail(r);
    const message = `${timedOut.stage.command}${inPipeline()} did not finish within ${timedOut.stage.options.timeout} ms (its timeout option); it was stopped${tail}`;
    return [true, new ExecError(message, r)];
  }
  // As execa and bash's pipefail: any command's failure is the pipeline's, a writer whose reader ended
  // early (`yes | head -1`: SIGPIPE, or ECONNRESET as Node's pipes are socket pairs) included.
  for (const r of running) {
    if ((r.exitCode === 0 && r.signal === null) || r.stage.options.nothrow) continue;
    const failed = result(r, r.stage.command);
    const how = r.signal !== null ? `was killed by signal ${r.signal}` : `failed with exit code ${r.exitCode}`;
    const tail = r.stage.options.stdio === "inherit" || r.stage.options.prefix !== undefined ? "" : stderrTail(failed);
    return [true, new ExecError(`${r.stage.command}${inPipeline()} ${how}${tail}`, failed)];
  }
  return [false, result(running[running.length - 1]!, pipeline)];
}

/** A line longer than this is passed on in pieces, so a child that never writes a newline cannot fill memory. */
const maxLineLength = 1 << 20;

/** Cuts decoded text into lines (`\n` or `\r\n`), keeping a partial line until it ends; `end` flushes it. */
export class LineSplitter {
  private readonly decoder: StringDecoder;
  private partial = "";

  constructor(
    encoding: BufferEncoding,
    private readonly onLine: (line: string) => void,
  ) {
    this.decoder = new StringDecoder(encoding);
  }

  push(chunk: Buffer): void {
    const text = this.partial + this.decoder.write(chunk);
    let start = 0;
    let newline: number;
    while ((newline = text.indexOf("\n", start)) !== -1) {
      this.onLine(text.slice(start, newline > start && text[newline - 1] === "\r" ? newline - 1 : newline));
      start = newline + 1;
    }
    for (; text.length - start > maxLineLength; start += maxLineLength) this.onLine(text.slice(start, start + maxLineLength));
    this.partial = text.slice(start);
  }

  /** The last line, even without its newline. */
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = "";
    if (rest !== "") this.onLine(rest);
  }
}
