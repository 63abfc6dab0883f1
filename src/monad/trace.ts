/**
 * Call-site recording for `--show-trace`. Off by default; when off, building
 * an IO node costs one boolean test and nothing is captured.
 */
import { describeFunction } from "./describe.js";

export interface Trace {
  /** "mapping", "joining", "binding", "running", ... */
  readonly op: string;
  /** The function or primitive the node holds. */
  readonly subject: string;
  /** `file:line:col` of the user code that built the node, if found. */
  readonly site: string | undefined;
}

let tracing = false;

export function setTracing(on: boolean): void {
  tracing = on;
}

export function isTracing(): boolean {
  return tracing;
}

/** tsexec's own code (`<package>/dist/` when built, `<package>/src/` under vitest): never the call site. */
const ownCode = new URL(".", import.meta.url).pathname.replace(/\/(dist|src)\/.*$/, "/$1/");

function isOwnFrame(line: string): boolean {
  return line.includes(ownCode) || line.includes("node:internal") || line.includes("(native)");
}

/**
 * Traces live beside the nodes, not in them: a node stays three fields, which
 * matters when a program holds millions of them.
 */
const traces = new WeakMap<object, Trace>();

/** Records where `node` is being built (under --show-trace) and returns it. */
export function traced<N extends object>(node: N, op: string, subject: unknown): N {
  if (!tracing) return node;
  const site = callSite();
  // A function no user code is passing (tsexec's own closure, built while a primitive runs) is not the user's to read about;
  // a labelled step (lib.mapPar of 4 steps) is named even so.
  if (site !== undefined || typeof subject === "string") traces.set(node, { op, subject: subjectName(subject), site });
  return node;
}

/** Where `node` was built, if it was built under --show-trace. */
export function nodeTrace(node: object): Trace | undefined {
  return tracing ? traces.get(node) : undefined;
}

function subjectName(subject: unknown): string {
  if (typeof subject === "string") return subject;
  // An anonymous function is shown by its source, never by a placeholder or an internal name.
  if (typeof subject === "function") return describeFunction(subject);
  return "<io>";
}

function callSite(): string | undefined {
  return firstUserFrame(new Error().stack ?? "");
}

/** The first frame of `stack` outside tsexec and Node, as `file:line:col`. */
function firstUserFrame(stack: string): string | undefined {
  for (const line of stack.split("\n").slice(1)) {
    if (isOwnFrame(line)) continue;
    const m = /\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/.exec(line);
    if (m) return m[1]!.replace(/^file:\/\//, "");
  }
  return undefined;
}

/** `while mapping f at file.ts:12:5` */
export function formatTrace(t: Trace): string {
  return `while ${t.op} ${t.subject}${t.site ? ` at ${t.site}` : ""}`;
}
