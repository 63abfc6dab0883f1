/**
 * `tsexec show <reference>`: lists the scripts a reference offers (modules
 * whose default export is a function of `{ args, lib }`), found by parsing
 * them with oxc-parser, never by running them, with the first line of each
 * one's doc comment and the commit they come from.
 *
 * The repository is untrusted, since show is how a user looks at it before
 * trusting it: the walk stays inside the checkout (no symbolic link is
 * followed, no other file system entered), files over `maxFileBytes` are
 * named but not read, parsing happens in a child process with a heap and a
 * time limit (see show-parser.ts), and every name and comment is printed
 * with its control characters escaped.
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync, realpathSync } from "node:fs";
import { join, sep } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../errors.js";
import { packageRoot } from "../package.js";
import { printable } from "../printable.js";
import { checkoutReference, type ResolvedReference } from "../reference.js";
import { isAppName } from "../apps.js";
import { parseTypedReference } from "../registry.js";
import { appPath, flakeListing } from "./show-apps.js";
import { UsageError } from "../options.js";
import type { CommandRun } from "./command.js";
import type { Inspection } from "./show-analysis.js";

/** `tsexec show REFERENCE`. */
export const run: CommandRun = async ({ args, ctx }) => {
  if (args.length !== 1) throw new UsageError("show takes one git reference: tsexec show <reference>");
  await showReference(args[0]!, ctx);
  return 0;
};

const scriptExtensions = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;

/** Files larger than this are listed with a note, not read: no script is that big, a crafted file may be. */
export const maxFileBytes = 1024 * 1024;
/** What one listing parses at most, in all. */
export const maxTotalBytes = 64 * 1024 * 1024;
/** The parser child's V8 heap (a 1 MiB file of tiny statements needs about 200 MB). */
const parserHeapMb = 768;
/** Time one file may take to parse (a 1 MiB file of tiny statements takes about 1.5 s). */
const parseTimeoutMs = 30_000;
/** Parser crashes tolerated per listing before the remaining files are left uninspected. */
const maxParserCrashes = 3;

export interface ScriptInfo {
  /** Path relative to the reference's directory. */
  readonly path: string;
  /** First line of the doc comment, or "". */
  readonly summary: string;
  /** Why the file was not inspected (then summary is ""). */
  readonly note?: string;
}

/** A script-named regular file found by the walk: to inspect, or listed with a note. */
interface Candidate {
  readonly path: string;
  readonly file: string;
  readonly size: number;
}

/** Prints the listing to stdout. */
export async function showReference(typed: string, ctx: PrimitiveContext, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const reference = await parseTypedReference(typed);
  const resolved = await checkoutReference(reference, ctx);
  const root = confinedRoot(resolved);
  const checkout = realpathSync(resolved.checkout);
  // An app name (`#deploy`) narrows the listing to the script `bin` maps it to; `#path` to the scripts at (or below) it.
  const narrowed =
    reference.path !== undefined && isAppName(reference.path) ? (appPath(root, checkout, reference.path) ?? reference.path) : reference.path;
  const wanted = (path: string) => narrowed === undefined || path === narrowed || path.startsWith(`${narrowed.replace(/\/$/, "")}/`);
  const scripts = await listScripts(root, wanted);
  const via = reference.registry === undefined ? "" : ` (registry: ${printable(reference.registry)})`;
  const lines = [`${printable(typed)}${via} at commit ${resolved.commit}:`];
  if (scripts.length === 0) {
    const where = reference.path === undefined ? "" : ` at '${printable(reference.path)}'`;
    lines.push(`  (no scripts${where}: no module default-exports a function of { args, lib })`);
  }
  // Apps (package.json bin) first, then the other scripts, then declared inputs (show-apps.ts, which escapes what it prints).
  const listed = scripts.map((s) => ({ path: s.path, summary: s.note !== undefined ? `(${s.note})` : s.summary }));
  if (listed.length > 0) lines.push(...flakeListing(root, checkout, listed, `reference '${printable(typed)}'`, narrowed === undefined));
  write(lines.join("\n") + "\n");
}

/** The directory to list: inside the checkout even where `?dir=` names a symbolic link. */
function confinedRoot({ reference, checkout, root, commit }: ResolvedReference): string {
  const what = `reference '${printable(reference.typed)}'`;
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    throw new TsexecError(`${what}: no directory '${printable(reference.dir)}' in ${printable(reference.url)} at ${commit}`);
  }
  const realCheckout = realpathSync(checkout);
  if (real !== realCheckout && !real.startsWith(realCheckout + sep)) {
    throw new TsexecError(`${what}: the dir '${printable(reference.dir)}' leads out of the checkout (a symbolic link to ${printable(real)}); show lists only the repository's own files`);
  }
  if (!lstatSync(real).isDirectory()) {
    throw new TsexecError(`${what}: '${printable(reference.dir)}' is not a directory in ${printable(reference.url)} at ${commit}`);
  }
  return real;
}

/** The scripts under `root` (relative paths for which `wanted` holds), in path order. */
export async function listScripts(root: string, wanted: (path: string) => boolean = () => true): Promise<ScriptInfo[]> {
  const candidates = walk(root).filter((c) => wanted(c.path));
  const found: ScriptInfo[] = [];
  const toInspect: Candidate[] = [];
  let budget = maxTotalBytes;
  const notes = new Map<Candidate, string>();
  for (const candidate of candidates) {
    if (candidate.size > maxFileBytes) {
      notes.set(candidate, `not inspected: ${formatBytes(candidate.size)}, over show's limit of ${formatBytes(maxFileBytes)} per file`);
    } else if (candidate.size > budget) {
      notes.set(candidate, `not inspected: show parses at most ${formatBytes(maxTotalBytes)} per listing`);
    } else {
      budget -= candidate.size;
      toInspect.push(candidate);
    }
  }
  const inspections = await inspectInChild(toInspect.map((c) => c.file));
  const byCandidate = new Map(toInspect.map((c, i) => [c, inspections[i]!]));
  for (const candidate of candidates) {
    const note = notes.get(candidate);
    const inspection: Inspection = note !== undefined ? { note } : byCandidate.get(candidate)!;
    if ("note" in inspection) found.push({ path: candidate.path, summary: "", note: inspection.note });
    else if ("summary" in inspection) found.push({ path: candidate.path, summary: inspection.summary });
  }
  return found;
}

/**
 * Script-named regular files under `root`, in the order a recursive listing
 * sorted by name gives. Symbolic links are never followed (a Dirent describes
 * the link itself), nor is another file system entered (a mount point below
 * the checkout, /proc-like trees); dot files and node_modules are skipped.
 */
function walk(root: string): Candidate[] {
  const device = lstatSync(root).dev;
  const found: Candidate[] = [];
  // An explicit stack (no recursion however deep the tree): entries pushed in reverse, popped in order.
  const stack: { path: string; directory: boolean }[] = [{ path: "", directory: true }];
  while (stack.length > 0) {
    const { path, directory } = stack.pop()!;
    const absolute = join(root, path);
    if (!directory) {
      const stat = lstatSync(absolute, { throwIfNoEntry: false });
      if (stat?.isFile()) found.push({ path, file: absolute, size: stat.size });
      continue;
    }
    if (path !== "" && lstatSync(absolute, { throwIfNoEntry: false })?.dev !== device) continue;
    let entries;
    try {
      entries = readdirSync(absolute, { withFileTypes: true });
    } catch {
      continue; // unreadable: nothing of it can be listed
    }
    entries.sort((a, b) => (a.name < b.name ? 1 : -1));
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const child = path ? `${path}/${entry.name}` : entry.name;
      if (entry.isDirectory()) stack.push({ path: child, directory: true });
      else if (entry.isFile() && scriptExtensions.test(entry.name) && !entry.name.endsWith(".d.ts")) stack.push({ path: child, directory: false });
    }
  }
  return found;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The child program (built from show-parser.ts). */
function parserScript(): string {
  const script = join(packageRoot, "dist", "show-parser.mjs");
  if (!existsSync(script)) throw new TsexecError(`tsexec's build is incomplete: ${script} is missing; run \`npm run build\` in ${packageRoot}`);
  return script;
}

/**
 * Inspects `files` in a child process, one Inspection per file, in order. A
 * child that crashes, runs out of heap or takes too long on a file is killed;
 * that file gets a note saying so, and a new child goes on with the rest.
 */
async function inspectInChild(files: readonly string[]): Promise<Inspection[]> {
  const results: Inspection[] = [];
  if (files.length === 0) return results;
  const script = parserScript();
  let crashes = 0;
  while (results.length < files.length) {
    if (crashes >= maxParserCrashes) {
      results.push({ note: `not inspected: the parser crashed on ${crashes} files before it` });
      continue;
    }
    const before = results.length;
    const failure = await runParser(script, files.slice(before), (inspection) => results.push(inspection));
    if (failure !== undefined) {
      crashes++;
      results.push({ note: `not inspected: ${failure}` });
    } else if (results.length === before) {
      throw new TsexecError("tsexec show: the parser process ended without a word: run it again with a build of tsexec that works (npm run build)");
    }
  }
  return results;
}

/** Runs one parser child over `files`; resolves to why it failed on the file it was at, or undefined if it finished. */
function runParser(script: string, files: readonly string[], onResult: (inspection: Inspection) => void): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${parserHeapMb}`, script], { stdio: ["pipe", "pipe", "pipe"] });
    let done = 0;
    let pending = "";
    let stderr = "";
    let timedOut = false;
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, parseTimeoutMs);
    };
    arm();
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        onResult(parseInspection(line));
        done++;
        arm();
      }
    });
    // Kept short: an out-of-memory report is all that is looked for.
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
    child.on("error", () => {}); // reported through 'close'
    child.stdin.on("error", () => {}); // a child that died early: reported through 'close'
    child.stdin.end(JSON.stringify(files));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (done >= files.length) resolve(undefined);
      else if (timedOut) resolve(`parsing it took longer than ${parseTimeoutMs / 1000} s`);
      else if (/heap out of memory|Allocation failed/i.test(stderr)) resolve(`parsing it needed more than ${parserHeapMb} MB of memory`);
      else resolve(`the parser crashed on it (${signal ?? `exit ${code}`})`);
    });
  });
}

function parseInspection(line: string): Inspection {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (typeof value.summary === "string") return { summary: value.summary };
    if (typeof value.note === "string") return { note: value.note };
    return {};
  } catch {
    return { note: "not inspected: the parser answered nonsense" };
  }
}
