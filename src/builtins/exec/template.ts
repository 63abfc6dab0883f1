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
 * The IO it returns has `.text()` (trimmed stdout), `.lines()` and `.json()`.
 */
import { Node, map, type IO } from "../../monad/io.js";
import { traced } from "../../monad/trace.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { exec, type ExecOptions, type ExecResult } from "./index.js";

/** An IO running a command, with helpers for its output. */
export interface CommandIO extends IO<ExecResult> {
  /** stdout, trimmed. */
  text(): IO<string>;
  /** stdout's lines (without the final newline's empty line). */
  lines(): IO<string[]>;
  /** stdout parsed as JSON. */
  json<T = unknown>(): IO<T>;
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
}

export function makeDollar(defaults: DollarOptions = {}): Dollar {
  const { shell, ...execOptions } = defaults;
  const dollar = (first: TemplateStringsArray | DollarOptions, ...values: unknown[]): CommandIO | Dollar => {
    if (!isTemplate(first)) {
      if (typeof first !== "object" || first === null) {
        throw new TypeError(`lib.$ is a tagged template (lib.$\`cmd ${"${arg}"}\`) or takes options (lib.$({ cwd })), got ${describeValue(first)}`);
      }
      return makeDollar({ ...defaults, ...first });
    }
    const [file, ...args] = shell ? shellCommand(shell, first, values) : splitTemplate(first, values);
    if (file === undefined) throw new TypeError("lib.$: the command is empty");
    const node = exec(file, args, execOptions) as unknown as Node;
    return traced(new CommandNode(node._tag, node._a, node._b), "running", node._b) as unknown as CommandIO;
  };
  Object.defineProperty(dollar, "shell", { get: () => makeDollar({ ...defaults, shell: defaults.shell || true }) });
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
