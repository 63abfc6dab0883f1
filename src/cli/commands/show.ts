/**
 * `tsexec show <reference | path>`: lists the scripts a reference, or a local
 * directory or file, offers (modules whose default export is a function of
 * `{ args, lib }`), found by parsing them with oxc-parser, never by running
 * them, with the first line of each one's doc comment and the commit they
 * come from. Which is which follows run's rule (target.ts).
 *
 * The repository (or the cloned directory) is untrusted, since show is how a
 * user looks at it before trusting it: the walk stays inside the checkout or
 * directory (no symbolic link is followed, no other file system entered),
 * nothing is written, files over `maxFileBytes` are
 * named but not read, parsing happens in a child process with a heap and a
 * time limit (see show/parser.ts), and every name and comment is printed
 * with its control characters escaped.
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync, realpathSync, statSync, type Stats } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { packageRoot } from "../../base/package.js";
import { printable } from "../../base/printable.js";
import { checkoutReference, parseReference, type Reference, type ResolvedReference } from "../../inputs/reference.js";
import { isAppName, listApps } from "../../inputs/apps.js";
import { lookupRegistry } from "../../inputs/registry.js";
import { appPath, flakeListing, hasApps } from "./show/apps.js";
import { classifyTarget, unknownTargetError } from "./target.js";
import { UsageError } from "../options.js";
import type { CommandRun } from "./command.js";
import type { Inspection } from "./show/analysis.js";
import type { InputsDeclaration } from "../../runtime/loader/inputs-declaration.js";
import { isInputsDeclaration } from "../../runtime/loader/cache.js";

/** `tsexec show REFERENCE | PATH`. */
export const run: CommandRun = async ({ args, ctx }) => {
  if (args.length !== 1) throw new UsageError("show takes one reference or path: tsexec show <reference | path>");
  await showTarget(args[0]!, ctx);
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
  /** Its declared inputs, read by the parser child. */
  readonly inputs?: InputsDeclaration;
  /** Why its inputs declaration cannot be read. */
  readonly inputsError?: string;
}

/** A script-named regular file found by the walk: to inspect, or listed with a note. */
interface Candidate {
  readonly path: string;
  readonly file: string;
  readonly size: number;
}

type Write = (text: string) => void;
const toStdout: Write = (text) => process.stdout.write(text);

/**
 * Prints the listing of what `typed` names to stdout: a reference, a registry
 * name or a local path, told apart by the rule `tsexec <target>` uses (target.ts).
 */
export async function showTarget(typed: string, ctx: PrimitiveContext, write: Write = toStdout): Promise<void> {
  const target = await classifyTarget(typed, ctx, "listing");
  switch (target.kind) {
    case "reference":
      return showReference(parseReference(typed), ctx, write);
    case "npm":
      return showPublishedPackage(typed, ctx, write);
    case "registry": {
      const found = lookupRegistry(typed);
      if (found === undefined) throw await unknownTargetError(typed);
      return showReference({ ...parseReference(found.expanded), typed, registry: found.expanded }, ctx, write);
    }
    case "script":
    case "missing":
      return showLocal(typed, target.path, undefined, write);
    case "local":
      return showLocal(typed, target.path, target.fragment, write);
  }
}

/** A git reference's listing: its checkout (fetched, or from the cache) is the boundary. */
async function showReference(reference: Reference, ctx: PrimitiveContext, write: Write): Promise<void> {
  const typed = reference.typed;
  const resolved = await checkoutReference(reference, ctx);
  const root = confinedRoot(resolved);
  const checkout = realpathSync(resolved.checkout);
  const what = `reference '${printable(typed)}'`;
  const lines = await listing(root, checkout, narrowTo(root, checkout, reference.path), what);
  const via = reference.registry === undefined ? "" : ` (registry: ${printable(reference.registry)})`;
  const where = reference.path === undefined ? "" : ` at '${printable(reference.path)}'`;
  write([`${printable(typed)}${via} at commit ${resolved.commit}:`, ...(lines ?? [`  (no scripts${where}: ${noScriptsWhy})`])].join("\n") + "\n");
}

/** `tsexec show npm:name@version`: the package's bins (installed in the store, never run). */
async function showPublishedPackage(typed: string, ctx: PrimitiveContext, write: Write): Promise<void> {
  const { locatePublishedPackage } = await import("../../inputs/npm-app.js");
  const { packageDir, key } = await locatePublishedPackage(typed, ctx);
  const apps = listApps(packageDir, packageDir, `npm:${printable(key)}`);
  const width = Math.max(0, ...apps.map((a) => `${a.name} → ${a.script ?? "?"}`.length));
  const lines = apps.map((app) => {
    const head = `${printable(app.name)} → ${printable(app.script ?? "?")}`;
    return `    ${head.padEnd(width)}  ${app.script === undefined ? `(broken: ${printable(app.problem ?? "")})` : `(${app.kind})`}`;
  });
  write([`npm:${printable(key)}:`, ...(lines.length > 0 ? ["  apps:", ...lines] : ["  (no bin: the package offers no command)"])].join("\n") + "\n");
}

const noScriptsWhy = "no module default-exports a function of { args, lib }";

/**
 * A local directory's listing (the directory is the boundary, as a checkout
 * is) or a local file's. A cloned repository is as untrusted as a fetched
 * one: the same walk, parser child and escaping; nothing is written anywhere.
 */
async function showLocal(typed: string, path: string, fragment: string | undefined, write: Write): Promise<void> {
  const shown = `'${printable(path)}'`;
  const local = localRoot(path);
  let lines: string[] | undefined;
  if (local.file === undefined) {
    lines = await listing(local.root, local.root, narrowTo(local.root, local.root, fragment), shown);
  } else {
    if (!isScriptName(local.file)) {
      throw new TsexecError(`${shown} is not a script file: show lists .ts, .mts, .cts, .tsx, .js, .mjs and .cjs files, or a directory of them`);
    }
    lines = await listing(local.root, local.root, local.file, shown);
  }
  if (lines === undefined) {
    if (fragment !== undefined) {
      throw new TsexecError(
        `${shown} has nothing to show at '${printable(fragment)}': no app of that name in its package.json bin and no script at that path: run tsexec show ${printable(path)} to see what it has`,
      );
    }
    const why =
      local.file === undefined
        ? `no module under ${shown} default-exports a function of { args, lib } (node_modules and dot directories are not searched)`
        : "it does not default-export a function of { args, lib }";
    throw new TsexecError(`${shown} has nothing to show: ${why}: name a script, or write one (tsexec init makes a project with an example)`);
  }
  const kind = local.file === undefined ? `local directory ${printable(local.root)}` : `local file ${printable(join(local.root, local.file))}`;
  write([`${printable(typed)} (${kind}):`, ...lines].join("\n") + "\n");
}

/**
 * The real directory a local path lists, and the file in it when the path
 * names a file. The path is the user's, but its last component may be a
 * symbolic link planted in a cloned repository: one leading out of the
 * directory that holds it is refused, as `?dir=` leading out of a checkout is.
 */
function localRoot(typed: string): { root: string; file: string | undefined } {
  const shown = `'${printable(typed)}'`;
  // `out/` would make lstat follow the link `out`: its last component is looked at without the slash.
  const path = typed.replace(/(?<=[^/])\/+$/, "");
  const link = lstatSync(path, { throwIfNoEntry: false });
  if (link === undefined) {
    throw new TsexecError(`no file or directory ${shown}: give show a directory, a script file, or a reference (github:…, git+https://…)`);
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    throw new TsexecError(`cannot resolve ${shown} (${(error as NodeJS.ErrnoException).code}): it is a symbolic link to nothing, or unreadable`);
  }
  if (link.isSymbolicLink()) {
    const container = realpathSync(dirname(resolve(path)));
    if (real !== container && !real.startsWith(container + sep)) {
      throw new TsexecError(`${shown} is a symbolic link out of the directory that holds it (to ${printable(real)}): show follows no link out; name the target itself if you mean it`);
    }
  }
  const stat = statSync(real);
  if (stat.isDirectory()) return { root: real, file: undefined };
  if (!stat.isFile()) throw new TsexecError(`${shown} is ${kindOf(stat)}, not a directory or a script file: show lists a directory or a script file`);
  return { root: dirname(real), file: basename(real) };
}

function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return "a named pipe";
  if (stat.isSocket()) return "a socket";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "a device";
  return "not a regular file";
}

/** The path (relative to `root`) a fragment narrows the listing to: an app name (`#deploy`) becomes the script `bin` maps it to. */
function narrowTo(root: string, boundary: string, fragment: string | undefined): string | undefined {
  if (fragment === undefined || !isAppName(fragment)) return fragment;
  return appPath(root, boundary, fragment) ?? fragment;
}

/** The listing's lines (apps, scripts, inputs: show-apps.ts, which escapes what it prints), or undefined when there are no scripts. */
async function listing(root: string, boundary: string, narrowed: string | undefined, what: string): Promise<string[] | undefined> {
  const scripts = await listScripts(root, narrowed);
  // A package whose bins are plain programs has apps and no scripts: the apps are still listed.
  if (scripts.length === 0 && (narrowed !== undefined || !hasApps(root, boundary, what))) return undefined;
  const listed = scripts.map((s) => ({ ...s, summary: s.note !== undefined ? `(${s.note})` : s.summary }));
  return flakeListing(root, boundary, listed, what, narrowed === undefined);
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

/** The scripts under `root` (relative paths), in path order; only those at or below `start` (a relative path) when given. */
export async function listScripts(root: string, start?: string): Promise<ScriptInfo[]> {
  const candidates = walk(root, start);
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
    else if ("summary" in inspection) {
      const { summary, inputs, inputsError } = inspection;
      found.push({ path: candidate.path, summary, ...(inputs && { inputs }), ...(inputsError !== undefined && { inputsError }) });
    }
  }
  return found;
}

/**
 * Script-named regular files under `root`, at or below `start`, in the order
 * a recursive listing sorted by name gives. Symbolic links are never followed
 * (a Dirent describes the link itself), nor is another file system entered (a
 * mount point below the root, /proc-like trees); dot files and node_modules
 * are skipped where the walk meets them (`start` may name them explicitly).
 */
function walk(root: string, start?: string): Candidate[] {
  const device = lstatSync(root).dev;
  const first = startEntry(root, start, device);
  if (first === undefined) return [];
  const found: Candidate[] = [];
  // An explicit stack (no recursion however deep the tree): entries pushed in reverse, popped in order.
  const stack: { path: string; directory: boolean }[] = [first];
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
      else if (entry.isFile() && isScriptName(entry.name)) stack.push({ path: child, directory: false });
    }
  }
  return found;
}

function isScriptName(name: string): boolean {
  return scriptExtensions.test(name) && !name.endsWith(".d.ts");
}

/**
 * Where the walk starts: the root, or `start` when each of its components is
 * a real directory (no symbolic link, same file system) and it ends in one or
 * in a script-named (or extensionless) regular file; undefined when `start` leads nowhere listable.
 */
function startEntry(root: string, start: string | undefined, device: number): { path: string; directory: boolean } | undefined {
  const parts = (start ?? "").split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) return undefined;
  for (let i = 1; i <= parts.length; i++) {
    const path = parts.slice(0, i).join("/");
    const stat = lstatSync(join(root, path), { throwIfNoEntry: false });
    if (stat === undefined || stat.dev !== device) return undefined;
    if (stat.isDirectory()) continue;
    // A file named outright (an app's bin) may be a shebang script without an extension, as tsexec runs it.
    const name = parts[i - 1]!;
    return i === parts.length && stat.isFile() && (isScriptName(name) || !name.includes(".")) ? { path, directory: false } : undefined;
  }
  return { path: parts.join("/"), directory: true };
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

/** The child program (built from show/parser.ts). */
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
    if (typeof value.summary === "string") {
      if (isInputsDeclaration(value.inputs)) return { summary: value.summary, inputs: value.inputs };
      if (typeof value.inputsError === "string") return { summary: value.summary, inputsError: value.inputsError };
      return { summary: value.summary };
    }
    if (typeof value.note === "string") return { note: value.note };
    return {};
  } catch {
    return { note: "not inspected: the parser answered nonsense" };
  }
}
