/**
 * `` lib.$`git rev-parse ${ref}` ``: `lib.exec` as a tagged template.
 *
 * The literal text is split on whitespace; each interpolation is exactly one
 * argument whatever it holds (spaces, quotes, `;`, `$()` are data, never
 * syntax), glued to literal text it touches (`--name=${x}`); an array is
 * several arguments. No shell runs unless asked: `` lib.$.shell`...` `` (or
 * `lib.$({ shell: true })`) runs `sh -c` on the text with every interpolation
 * single-quoted.
 *
 * The IO it returns has `.text()` (trimmed stdout), `.lines()` and `.json()`;
 * `.pipe(other)` (its stdout into `other`'s stdin, no shell), `.quiet()` and
 * `.verbose()`. Output read as it comes (`onLine`, `prefix`) and pipes run in
 * ./pipeline.ts.
 */
import { Node, map, type IO } from "../../monad/io.js";
import { traced } from "../../monad/trace.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { checkCommand, exec, type ExecOptions, type ExecResult } from "./index.js";
import type { Stage } from "./pipeline.js";

/** Yields ./pipeline.ts, loaded when first needed (src/cli/on-first-use.ts): a warm plain run never compiles it. */
export type LoadPipeline = () => typeof import("./pipeline.js");

/** Whether a command's options need its output read line by line (./pipeline.ts). */
export function streams(options: ExecOptions): boolean {
  return options.onLine !== undefined || options.prefix !== undefined || (options.verbose === true && !options.quiet);
}

function makeStage(file: string, args: readonly (string | number)[], options: ExecOptions): Stage {
  const { argv, command } = checkCommand(file, args, options);
  return { file, args: argv, options, command };
}

/** `lib.exec`: ./index.ts's spawner, or the streaming one when an option needs it. */
export function makeExec(loadPipeline: LoadPipeline): typeof exec {
  return (file, args = [], options = {}) => (streams(options) ? loadPipeline().runStages([makeStage(file, args, options)]) : exec(file, args, options));
}

/** An IO running a command, with helpers for its output. */
export interface CommandIO extends IO<ExecResult> {
  /** stdout, trimmed. */
  text(): IO<string>;
  /** stdout's lines (without the final newline's empty line). */
  lines(): IO<string[]>;
  /** stdout parsed as JSON. */
  json<T = unknown>(): IO<T>;
  /**
   * This command's stdout is `next`'s stdin (a pipe between the two children, no shell); yields
   * `next`'s result. Fails if either fails (a writer stopped by SIGPIPE once the reader is done is not a failure).
   */
  pipe(next: CommandIO): CommandIO;
  /** The same command, never logged, even under --verbose. */
  quiet(): CommandIO;
  /** The same command, logged as it starts and its output echoed to stderr line by line. */
  verbose(): CommandIO;
}

export interface DollarOptions extends ExecOptions {
  /** Run the text with `sh -c` (a string: that shell), interpolations quoted. */
  readonly shell?: boolean | string;
}

export interface Dollar {
  (strings: TemplateStringsArray, ...values: unknown[]): CommandIO;
  /** A `$` with these options (cwd, env, nothrow, shell ...). */
  (options: DollarOptions): Dollar;
  /** The same, through `sh -c`. */
  readonly shell: Dollar;
  readonly text: (io: IO<ExecResult>) => IO<string>;
  readonly lines: (io: IO<ExecResult>) => IO<string[]>;
  readonly json: <T = unknown>(io: IO<ExecResult>) => IO<T>;
}

export function text(io: IO<ExecResult>): IO<string> {
  return map((r: ExecResult) => r.stdout.trim(), io);
}

export function lines(io: IO<ExecResult>): IO<string[]> {
  return map((r: ExecResult) => {
    const out = r.stdout.replace(/\r?\n$/, "");
    return out === "" ? [] : out.split(/\r?\n/);
  }, io);
}

export function json<T = unknown>(io: IO<ExecResult>): IO<T> {
  return map((r: ExecResult) => {
    try {
      return JSON.parse(r.stdout) as T;
    } catch (error) {
      throw new TsexecError(`the output of ${r.command} is not JSON: ${(error as Error).message}`);
    }
  }, io);
}

/** What each command IO `$` built runs (kept aside, so its node has the fields every node has). */
const commands = new WeakMap<object, { readonly stages: readonly Stage[]; readonly loadPipeline: LoadPipeline }>();

/** A command IO running `stages`: the plain spawner for one plain command, else the pipeline's. */
function commandIO(stages: readonly Stage[], loadPipeline: LoadPipeline): CommandIO {
  const only = stages.length === 1 ? stages[0]! : undefined;
  const plain = only !== undefined && !streams(only.options);
  const node = (plain ? exec(only.file, only.args, only.options) : loadPipeline().runStages(stages)) as unknown as Node;
  const command = traced(new CommandNode(node._tag, node._a, node._b), "running", node._b) as unknown as CommandIO;
  commands.set(command, { stages, loadPipeline });
  return command;
}

function withOptions(io: CommandNode, extra: ExecOptions): CommandIO {
  const { stages, loadPipeline } = commands.get(io)!;
  return commandIO(stages.map((stage) => ({ ...stage, options: { ...stage.options, ...extra } })), loadPipeline);
}

/** The command IO: the node `exec` built, with the helpers as methods. */
class CommandNode extends Node {
  text(): IO<string> {
    return text(this as unknown as IO<ExecResult>);
  }
  lines(): IO<string[]> {
    return lines(this as unknown as IO<ExecResult>);
  }
  json<T = unknown>(): IO<T> {
    return json<T>(this as unknown as IO<ExecResult>);
  }
  pipe(next: CommandIO): CommandIO {
    const after = typeof next === "object" && next !== null ? commands.get(next)?.stages : undefined;
    if (after === undefined) {
      throw new TypeError(`.pipe takes a command built by lib.$ (lib.$\`sort\`), got ${describeValue(next)}`);
    }
    const { stages, loadPipeline } = commands.get(this)!;
    if (after[0]!.options.input !== undefined) {
      throw new TypeError(`.pipe: ${after[0]!.command} has an input option, but its stdin is the output of ${stages.at(-1)!.command}`);
    }
    return commandIO([...stages, ...after], loadPipeline);
  }
  quiet(): CommandIO {
    return withOptions(this, { quiet: true, verbose: false });
  }
  verbose(): CommandIO {
    return withOptions(this, { verbose: true, quiet: false });
  }
}

export function makeDollar(loadPipeline: LoadPipeline, defaults: DollarOptions = {}): Dollar {
  const { shell, ...execOptions } = defaults;
  const dollar = (first: TemplateStringsArray | DollarOptions, ...values: unknown[]): CommandIO | Dollar => {
    if (!isTemplate(first)) {
      if (typeof first !== "object" || first === null) {
        throw new TypeError(`lib.$ is a tagged template (lib.$\`cmd ${"${arg}"}\`) or takes options (lib.$({ cwd })), got ${describeValue(first)}`);
      }
      return makeDollar(loadPipeline, { ...defaults, ...first });
    }
    const [file, ...args] = shell ? shellCommand(shell, first, values) : splitTemplate(first, values);
    if (file === undefined) throw new TypeError("lib.$: the command is empty");
    return commandIO([makeStage(file, args, execOptions)], loadPipeline);
  };
  Object.defineProperty(dollar, "shell", { get: () => makeDollar(loadPipeline, { ...defaults, shell: defaults.shell || true }) });
  return Object.assign(dollar, { text, lines, json }) as unknown as Dollar;
}

function isTemplate(value: unknown): value is TemplateStringsArray {
  return Array.isArray(value) && Array.isArray((value as unknown as TemplateStringsArray).raw);
}

/** The arguments: literal text split on whitespace, each interpolation one argument (arrays several). */
export function splitTemplate(strings: readonly string[], values: readonly unknown[]): string[] {
  const args: string[] = [];
  let current: string | undefined; // the argument being built, if any
  const literal = (text: string): void => {
    for (const piece of text.split(/(\s+)/)) {
      if (piece === "") continue;
      if (/^\s+$/.test(piece)) {
        if (current !== undefined) args.push(current);
        current = undefined;
      } else current = (current ?? "") + piece;
    }
  };
  for (let i = 0; i < strings.length; i++) {
    literal(strings[i]!);
    if (i >= values.length) break;
    const value = values[i];
    if (Array.isArray(value)) {
      value.forEach((element, j) => {
        const arg = argumentText(element, i);
        if (j === 0) current = (current ?? "") + arg;
        else {
          args.push(current!);
          current = arg;
        }
      });
    } else current = (current ?? "") + argumentText(value, i);
  }
  if (current !== undefined) args.push(current);
  return args;
}

/** `sh -c 'text with each interpolation single-quoted'`. */
function shellCommand(shell: boolean | string, strings: readonly string[], values: readonly unknown[]): string[] {
  let script = strings[0]!;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const quoted = Array.isArray(value) ? value.map((v) => shellQuote(argumentText(v, i))).join(" ") : shellQuote(argumentText(value, i));
    script += quoted + strings[i + 1]!;
  }
  return [typeof shell === "string" ? shell : "sh", "-c", script];
}

/** Single quotes keep everything literal in a POSIX shell, control characters included. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function argumentText(value: unknown, index: number): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "object" && value !== null && typeof (value as { outPath?: unknown }).outPath === "string") {
    return (value as { outPath: string }).outPath;
  }
  throw new TypeError(`lib.$: interpolation ${index + 1} is ${describeValue(value)}; give a string, a number or an array of them`);
}
