/**
 * `tsexec check [SCRIPT…]`: type-checks scripts as tsexec runs them, with no
 * tsconfig needed. Loaded only for this command (and `--check`), so a plain
 * run never pays for a type checker.
 *
 * Without a tsconfig.json beside the script, the options are the ones
 * tsexec's loader implements: strict, ES modules, bundler-like resolution
 * with `.ts` imports, Node's types, isolated modules (oxc transpiles each file
 * alone), and `tsexec` resolved to the running copy's own types. A
 * tsconfig.json beside the script (or above it, within its package) is
 * honoured (extended, with noEmit).
 *
 * A script without an extension (a shebang script, `#!/usr/bin/env tsexec`)
 * runs as TypeScript, but no checker reads a file so named: it is checked as
 * a `.ts` copy in the cache, with `rootDirs` joining the copy's directory to
 * the script's so its relative imports resolve as they do beside it, and
 * errors name the script itself.
 *
 * Two checkers read the same generated config: TypeScript's native port
 * (`tsgo`, an optional dependency) when it is installed for this platform, else
 * TypeScript's own API. bench/check.mjs measures both against `deno check`.
 */
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { readSourceText } from "../../base/bounded-read.js";
import { createRequire } from "node:module";
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { ambientContext } from "../../base/context.js";
import { beforeSpawn, trackChild } from "../../base/children.js";
import { TsexecError } from "../../base/errors.js";
import { writeCacheFile } from "../../runtime/loader/cache.js";
import { locateScript } from "../../runtime/loader/index.js";
import { packageRoot } from "../../base/package.js";
import { droppedIORule, type OwnFiles } from "./check/dropped-io.js";
import type { CommandRun } from "./command.js";
import { linkEditorTypes, wantsEditorLinks } from "./check/editor-links.js";

/** `tsexec check [SCRIPT…]`: exit 1 on any type error, 0 otherwise. */
export const run: CommandRun = async ({ args, ctx }) => {
  // `tsexec check --frozen` means what `tsexec --frozen check` does: the lock options apply to the packages check pins.
  const lockOptions = new Set(["--frozen", "--offline"]);
  for (const arg of args) if (lockOptions.has(arg)) (ctx.options as Record<string, unknown>)[arg.slice(2)] = true;
  const scripts = args.filter((arg) => !lockOptions.has(arg));
  const errors = await checkScripts(scripts.length > 0 ? scripts : ["."], ctx.cacheDir);
  return errors.length === 0 ? 0 : 1;
};

/** `tsexec --check SCRIPT`: type errors stop the run before anything in it runs. */
export async function checkBeforeRun(file: string, cacheDir: string): Promise<void> {
  const errors = await checkScripts([file], cacheDir, { summary: false });
  if (errors.length > 0) throw new TsexecError(`${countErrors(errors)} (listed above): the script was not run`);
}

export interface Diagnostic {
  /** Absolute path; undefined for an error about the options themselves. */
  readonly file: string | undefined;
  readonly line: number;
  readonly column: number;
  readonly code: number;
  /** Set for tsexec's own rules (check-dropped-io.ts): printed instead of `TS<code>`. */
  readonly rule?: string;
  readonly message: string;
}

/** `isOwnFile`: the files tsexec's own rules look at (the scripts and theirs, not packages or the cache). */
type Checker = (config: string, cwd: string, own: OwnFiles) => Promise<Diagnostic[]>;

/**
 * Checks `paths` (scripts, or directories: a directory with a tsconfig.json
 * is that project, else its TypeScript files); prints each error with a code
 * frame to stderr; returns them.
 */
export async function checkScripts(
  paths: readonly string[],
  cacheDir: string,
  { summary = true, write = (text: string) => void process.stderr.write(text) } = {},
): Promise<readonly Diagnostic[]> {
  const checker = pickChecker();
  keepEditorLinks(paths, write);
  const diagnostics: Diagnostic[] = [];
  for (const group of groupByConfig(paths, cacheDir)) {
    const copy = group.standIn;
    const found = await checker(await writeCheckConfig(group, cacheDir, write), process.cwd(), { cacheDir, standIn: copy?.file });
    diagnostics.push(...(copy === undefined ? found : found.map((d) => (d.file === copy.file ? { ...d, file: copy.script } : d))));
  }
  for (const diagnostic of diagnostics) write(formatDiagnostic(diagnostic));
  if (summary && diagnostics.length > 0) {
    const files = new Set(diagnostics.map((d) => d.file)).size;
    write(`error: ${countErrors(diagnostics)} in ${plural(files, "file")} (listed above)\n`);
  }
  return diagnostics;
}

/** `2 type errors`, `1 dropped IO value`, or both joined by `and`. */
function countErrors(diagnostics: readonly Diagnostic[]): string {
  const dropped = diagnostics.filter((d) => d.rule === droppedIORule).length;
  const typeErrors = diagnostics.length - dropped;
  const parts = [typeErrors > 0 ? plural(typeErrors, "type error") : "", dropped > 0 ? plural(dropped, "dropped IO value") : ""];
  return parts.filter(Boolean).join(" and ");
}

/** The projects of the checked paths get their node_modules links to this tsexec (editor-links.ts), saying so when one changes. */
function keepEditorLinks(paths: readonly string[], write: (text: string) => void): void {
  const projects = new Set<string>();
  for (const path of paths) {
    for (let dir = isDirectory(resolve(path)) ? resolve(path) : dirname(resolve(path)); ; dir = dirname(dir)) {
      if (existsSync(join(dir, "package.json"))) {
        projects.add(dir);
        break;
      }
      if (dirname(dir) === dir) break;
    }
  }
  for (const project of projects) {
    if (!wantsEditorLinks(project)) continue;
    const linked = linkEditorTypes(project);
    if (linked.length > 0) {
      write(`tsexec: linked ${linked.map((name) => join(project, "node_modules", name)).join(", ")} to this tsexec's copies (${packageRoot}), for editors\n`);
    }
  }
}

// ---- what to check, under which options ----

/** Scripts that share a tsconfig.json (or have none) are checked as one program. */
interface CheckGroup {
  /** The tsconfig.json to extend, if the scripts have one beside them. */
  readonly userConfig: string | undefined;
  /** The root files; undefined: the user config's own `files`/`include`. */
  files: string[] | undefined;
  /** An extensionless script, checked as a `.ts` copy (its group's only file). */
  readonly standIn?: StandIn;
}

interface StandIn {
  readonly script: string;
  readonly file: string;
}

const checkedExtensions = /\.(ts|mts|cts|tsx)$/;

function groupByConfig(paths: readonly string[], cacheDir: string): CheckGroup[] {
  const groups = new Map<string, CheckGroup>();
  const alone: CheckGroup[] = [];
  const add = (userConfig: string | undefined, files: string[] | undefined) => {
    const key = userConfig ?? "";
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { userConfig, files });
    else if (group.files !== undefined) group.files = files === undefined ? undefined : [...group.files, ...files];
  };
  for (const path of paths) {
    const absolute = resolve(path);
    if (isDirectory(absolute)) {
      const config = join(absolute, "tsconfig.json");
      if (existsSync(config)) add(config, undefined);
      else {
        const files = readdirSync(absolute)
          .filter((name) => checkedExtensions.test(name) && !name.endsWith(".d.ts"))
          .map((name) => join(absolute, name));
        if (files.length === 0) throw new TsexecError(`'${path}' holds no TypeScript file and no tsconfig.json: name the scripts to check`);
        add(undefined, files);
      }
      continue;
    }
    const file = locateScript(path);
    if (extname(file) === "") {
      const standIn = writeStandIn(file, cacheDir);
      alone.push({ userConfig: nearestConfig(dirname(file)), files: [standIn.file], standIn });
      continue;
    }
    if (!checkedExtensions.test(file)) {
      throw new TsexecError(`cannot type-check '${path}': only TypeScript is checked (.ts, .mts, .cts, .tsx, or a script without an extension); check a .ts file that imports it`);
    }
    add(nearestConfig(dirname(file)), [file]);
  }
  return [...groups.values(), ...alone];
}

/** `<cache>/check/scripts/<hash of the script's path>/<its name>.ts`, holding the script's text now. */
function writeStandIn(script: string, cacheDir: string): StandIn {
  const dir = join(cacheDir, "check", "scripts", createHash("sha256").update(script).digest("hex").slice(0, 32));
  const file = join(dir, `${basename(script)}.ts`);
  writeCacheFile(file, readSourceText(script));
  return { script, file };
}

/**
 * The tsconfig.json an editor would use for a script in `dir`: beside it, else
 * in a parent, up to the directory of the nearest package.json (a project's
 * edge: a tsconfig above it belongs to something else).
 */
function nearestConfig(dir: string): string | undefined {
  for (;;) {
    const config = join(dir, "tsconfig.json");
    if (existsSync(config)) return config;
    if (existsSync(join(dir, "package.json")) || dirname(dir) === dir) return undefined;
    dir = dirname(dir);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The compiler options tsexec's loader implements (used when no tsconfig.json is beside the script). */
export function loaderCompilerOptions(): Record<string, unknown> {
  return {
    strict: true,
    target: "ES2022",
    lib: ["ES2023"],
    module: "ESNext",
    moduleResolution: "Bundler",
    allowImportingTsExtensions: true,
    isolatedModules: true,
    esModuleInterop: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    types: ["node"],
  };
}

/**
 * The generated tsconfig both checkers read, in `<cache>/check/`: named by a
 * hash of its text, so concurrent checks never write different contents to
 * one file.
 */
async function writeCheckConfig(group: CheckGroup, cacheDir: string, write: (text: string) => void): Promise<string> {
  const user = group.userConfig === undefined ? "" : readSourceText(group.userConfig);
  // The generated config lives in the cache, so Node's types and `tsexec` are named
  // where tsexec finds them, unless the user's tsconfig names them itself.
  const compilerOptions = {
    ...(group.userConfig === undefined ? loaderCompilerOptions() : {}),
    noEmit: true,
    // The copy of an extensionless script imports what sits beside the script.
    ...(group.standIn === undefined ? {} : { rootDirs: [dirname(group.standIn.script), dirname(group.standIn.file)] }),
    ...(/"typeRoots"\s*:/.test(user) ? {} : { typeRoots: typeRoots(group.userConfig) }),
  };
  const npmTypes = /"paths"\s*:/.test(user) ? undefined : await typePaths(group.files ?? [], write);
  if (npmTypes !== undefined) Object.assign(compilerOptions, { paths: npmTypes.paths });
  // Packages without types: one shorthand ambient declaration each (`declare module "npm:x";`), so they type as any.
  const untypedFile = npmTypes === undefined || npmTypes.untyped.length === 0 ? undefined : writeUntypedDeclarations(npmTypes.untyped, cacheDir);
  const config = {
    ...(group.userConfig === undefined ? {} : { extends: group.userConfig }),
    compilerOptions,
    ...(group.files === undefined ? {} : { files: [...group.files, ...(untypedFile === undefined ? [] : [untypedFile])], include: [] }),
  };
  const text = JSON.stringify(config, null, 2) + "\n";
  const file = join(cacheDir, "check", `${createHash("sha256").update(text).digest("hex").slice(0, 32)}.tsconfig.json`);
  if (!existsSync(file)) writeCacheFile(file, text);
  return file;
}

/** `node_modules/@types` up from the user's tsconfig (what tsc would use), then the one beside tsexec's. */
function typeRoots(userConfig: string | undefined): string[] {
  const roots: string[] = [];
  if (userConfig !== undefined) {
    for (let dir = dirname(userConfig); ; dir = dirname(dir)) {
      const types = join(dir, "node_modules", "@types");
      if (isDirectory(types)) roots.push(types);
      if (dirname(dir) === dir) break;
    }
  }
  const own = nodeTypeRoot();
  return roots.includes(own) ? roots : [...roots, own];
}

/** The directory holding `@types/node`, found from tsexec's package (a dependency of it). */
function nodeTypeRoot(): string {
  return dirname(dirname(createRequire(join(packageRoot, "package.json")).resolve("@types/node/package.json")));
}

/**
 * Specifier → type files for modules the loader resolves in its own way:
 * `tsexec` and `fp-ts` are the running copy's, wherever the script lives;
 * each `npm:` specifier a checked script imports is the package the store
 * installs for it (through the script's tsexec.lock, as a run would: a cold
 * check installs, and says what it pinned). A package that ships no types
 * gets its DefinitelyTyped package `@types/NAME` (the same major version),
 * pinned in the same tsexec.lock as Deno does; without one it is `untyped`
 * (typed any, with one note). Inputs need no entry: `defineScript(inputs, fn)`
 * types their names.
 */
async function typePaths(files: readonly string[], write: (text: string) => void): Promise<{ paths: Record<string, string[]>; untyped: string[] }> {
  const paths: Record<string, string[]> = {
    tsexec: [join(packageRoot, "dist", "index.d.ts")],
    "tsexec/unsafe-lib": [join(packageRoot, "dist", "unsafe-lib.d.ts")],
    // fp-ts is tsexec's own too: the loader gives every script tsexec's copy.
    "fp-ts": [fpTsDir()],
    "fp-ts/*": [join(fpTsDir(), "*")],
  };
  const untyped: string[] = [];
  for (const file of files) {
    const specifiers = npmSpecifiersIn(readSourceText(file));
    if (specifiers.length === 0) continue;
    const packages = await import("../../runtime/npm/index.js");
    for (const text of specifiers) {
      const found = await packages.locateNpmSpecifier(text, file, ambientContext());
      if (found.packageDir === undefined) continue;
      if (shipsTypes(found.packageDir, found.subpath)) {
        paths[`npm:${text}`] = [found.subpath === "." ? found.packageDir : join(found.packageDir, found.subpath)];
        continue;
      }
      const types = await typesPackage(found.packageDir, file, packages);
      if (types.dir !== undefined) {
        paths[`npm:${text}`] = [found.subpath === "." ? types.dir : join(types.dir, found.subpath)];
      } else if (!untyped.includes(`npm:${text}`)) {
        untyped.push(`npm:${text}`);
        write(`tsexec: note: npm:${text} ships no types and ${types.why}: it is typed any\n`);
      }
    }
  }
  return { paths, untyped };
}

/** Whether a package (at `subpath`) carries its own declarations: `types`/`typings`, a `types` export condition, or a `.d.ts` beside the file. */
function shipsTypes(packageDir: string, subpath: string): boolean {
  let pkg: { types?: unknown; typings?: unknown; main?: unknown; exports?: unknown };
  try {
    pkg = JSON.parse(readSourceText(join(packageDir, "package.json"))) as typeof pkg;
  } catch {
    return false;
  }
  if (subpath === "." && (typeof pkg.types === "string" || typeof pkg.typings === "string")) return true;
  if (pkg.exports !== undefined && /"types"\s*:/.test(JSON.stringify(pkg.exports))) return true;
  const base = subpath === "." ? (typeof pkg.main === "string" ? pkg.main : "index.js") : subpath;
  const stem = join(packageDir, base).replace(/\.[cm]?js$/, "");
  return [".d.ts", ".d.mts", ".d.cts", join("/", "index.d.ts")].some((ending) => existsSync(stem + ending));
}

type NpmModule = typeof import("../../runtime/npm/index.js");

/**
 * The installed `@types/NAME` for the package in `packageDir`, at the
 * package's major version, through `npm:@types/NAME@MAJOR` in the script's
 * tsexec.lock (a first check resolves and pins it, saying so; --frozen refuses
 * to). `why` says why there is none.
 */
async function typesPackage(packageDir: string, script: string, packages: NpmModule): Promise<{ dir?: string; why: string }> {
  let pkg: { name?: unknown; version?: unknown };
  try {
    pkg = JSON.parse(readSourceText(join(packageDir, "package.json"))) as typeof pkg;
  } catch {
    return { why: "its package.json cannot be read" };
  }
  if (typeof pkg.name !== "string" || typeof pkg.version !== "string") return { why: "its package.json names no version" };
  const typesName = `@types/${pkg.name.startsWith("@") ? pkg.name.slice(1).replace("/", "__") : pkg.name}`;
  const major = /^(\d+)\./.exec(pkg.version)?.[1];
  const wanted = major === undefined ? typesName : `${typesName}@${major}`;
  try {
    const found = await packages.locateNpmSpecifier(wanted, script, ambientContext());
    return { dir: found.packageDir, why: "" };
  } catch (error) {
    // None published (a 404), none for this major, or none in npm's cache offline: typed any. Anything else is the user's to fix.
    if (error instanceof TsexecError && /answered 404|no version of @types\/|--offline lets only npm's cache/.test(error.message)) {
      return { why: `the registry has no ${wanted}` };
    }
    // --frozen: the lock is not changed; the package is checked as any until a check without --frozen pins its types.
    if (error instanceof TsexecError && /forbids changing it/.test(error.message)) {
      return { why: `${wanted} is not pinned in ${join(dirname(script), "tsexec.lock")}, which --frozen forbids changing (tsexec check without --frozen pins it)` };
    }
    throw error;
  }
}

/** `<cache>/check/untyped-<hash>.d.ts`: `declare module "npm:x";` for each specifier, so each types as any. */
function writeUntypedDeclarations(specifiers: readonly string[], cacheDir: string): string {
  const text = specifiers.map((s) => `declare module ${JSON.stringify(s)};\n`).join("");
  const file = join(cacheDir, "check", `untyped-${createHash("sha256").update(text).digest("hex").slice(0, 32)}.d.ts`);
  if (!existsSync(file)) writeCacheFile(file, text);
  return file;
}

/** tsexec's copy of fp-ts (a dependency of tsexec). */
function fpTsDir(): string {
  return dirname(createRequire(join(packageRoot, "package.json")).resolve("fp-ts/package.json"));
}

/** The `npm:` specifiers a module names in string literals (imports, exports, dynamic imports). */
function npmSpecifiersIn(source: string): string[] {
  return [...new Set([...source.matchAll(/(["'])npm:([^"'\s]+)\1/g)].map((m) => m[2]!))];
}

// ---- the checkers ----

/** `TSEXEC_CHECKER=tsc|tsgo` forces one (the bench measures both); else tsgo when installed. */
function pickChecker(): Checker {
  const wanted = process.env.TSEXEC_CHECKER;
  if (wanted !== undefined && wanted !== "" && wanted !== "tsc" && wanted !== "tsgo") {
    throw new TsexecError(`TSEXEC_CHECKER is '${wanted}': set it to tsc or tsgo, or unset it`);
  }
  if (wanted === "tsc") return (config, _cwd, own) => runCheckWorker("check", config, own);
  const tsgo = tsgoExecutable();
  if (tsgo !== undefined) {
    return async (config, cwd, own) => {
      const diagnostics = await checkWithTsgo(tsgo, config, cwd);
      // tsgo has no API to ask for types: TypeScript's looks for dropped IO values, in a child of its own, once tsgo is done.
      const dropped = diagnostics.some(isOptionError) ? [] : await runCheckWorker("dropped-io", config, own);
      // TypeScript 7 dropped options older configs still use (baseUrl, moduleResolution node, target ES5):
      // such a config is TypeScript 5's to check, not an error of the user's.
      if (wanted !== "tsgo" && diagnostics.some(isOptionError)) return runCheckWorker("check", config, own);
      return [...diagnostics, ...dropped];
    };
  }
  if (wanted === "tsgo") throw new TsexecError(`TSEXEC_CHECKER=tsgo, but @typescript/native-preview is not installed for ${process.platform}-${process.arch}`);
  return (config, _cwd, own) => runCheckWorker("check", config, own);
}

/** TS5xxx: an error about the compiler options, not about the code. */
function isOptionError(d: Diagnostic): boolean {
  return d.code >= 5000 && d.code < 6000;
}

/** The native checker's executable, from its platform package (an optional dependency: absent on some platforms). */
function tsgoExecutable(): string | undefined {
  try {
    const fromTsexec = createRequire(join(packageRoot, "package.json"));
    const preview = createRequire(fromTsexec.resolve("@typescript/native-preview/package.json"));
    const platformPackage = preview.resolve(`@typescript/native-preview-${process.platform}-${process.arch}/package.json`);
    const exe = join(dirname(platformPackage), "lib", process.platform === "win32" ? "tsgo.exe" : "tsgo");
    return existsSync(exe) ? exe : undefined;
  } catch {
    return undefined;
  }
}

/** Runs tsgo on the generated config and reads its plain (`--pretty false`) output. */
function checkWithTsgo(exe: string, config: string, cwd: string): Promise<Diagnostic[]> {
  return new Promise((resolvePromise, reject) => {
    beforeSpawn();
    // A process group of its own, registered: a signal to tsexec stops the checker (and what it started) too.
    const child = spawn(exe, ["-p", config, "--pretty", "false"], { cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    trackChild(child);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", (error) => reject(new TsexecError(`cannot run the type checker ${exe}: ${error.message}`)));
    child.on("close", (code) => {
      const diagnostics = parseTscOutput(out, cwd);
      if (code !== 0 && diagnostics.length === 0) {
        reject(new TsexecError(`the type checker ${exe} failed (exit ${code}) without a diagnostic: ${out.trim().split("\n")[0] ?? ""}`));
      } else resolvePromise(diagnostics);
    });
  });
}

/** `file(line,col): error TS1234: message`, continuation lines indented (a message chain). */
export function parseTscOutput(out: string, cwd: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  let last: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } | undefined;
  for (const line of out.split("\n")) {
    const located = /^(.+)\((\d+),(\d+)\): error TS(\d+): (.*)$/.exec(line);
    const global = located ? null : /^error TS(\d+): (.*)$/.exec(line);
    if (located) {
      const [, file, row, col, code, message] = located;
      last = { file: isAbsolute(file!) ? file! : resolve(cwd, file!), line: Number(row), column: Number(col), code: Number(code), message: message! };
      diagnostics.push(last);
    } else if (global) {
      last = { file: undefined, line: 0, column: 0, code: Number(global[1]), message: global[2]! };
      diagnostics.push(last);
    } else if (last !== undefined && /^\s+\S/.test(line)) {
      last.message += `\n${line}`;
    }
  }
  return diagnostics;
}

/**
 * TypeScript's own API in a child process (check/worker.ts): `check` gives its
 * errors and the dropped IO values of one program, `dropped-io` (beside tsgo)
 * only the latter. In tsexec's own process the seconds it takes would block
 * the event loop, and with it SIGINT and SIGTERM.
 */
function runCheckWorker(mode: "check" | "dropped-io", config: string, own: OwnFiles): Promise<Diagnostic[]> {
  const typescript = createRequire(join(packageRoot, "package.json")).resolve("typescript");
  const worker = join(packageRoot, "dist", "check-worker.mjs");
  return new Promise((resolvePromise, reject) => {
    beforeSpawn();
    const child = spawn(process.execPath, [worker, mode, typescript, config, JSON.stringify(own)], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    trackChild(child);
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (error) => reject(new TsexecError(`cannot run the type checker (TypeScript's API in ${process.execPath}): ${error.message}`)));
    child.on("close", (code, signal) => {
      try {
        if (code === 0) return resolvePromise(JSON.parse(out) as Diagnostic[]);
      } catch {
        // not JSON: reported below
      }
      const how = signal !== null ? `was killed by ${signal}` : `failed (exit ${code})`;
      reject(new TsexecError(`the type checker (TypeScript's API) ${how}: ${printable(err.trim().split("\n")[0] ?? "")}`));
    });
  });
}

// ---- output ----

/** `file:line:col: error TS2322: message`, then the line with a caret under the column. */
export function formatDiagnostic(d: Diagnostic): string {
  const message = printable(d.message);
  if (d.file === undefined) return `tsconfig: error TS${d.code}: ${message}\n`;
  const head = `${displayPath(d.file)}:${d.line}:${d.column}: error ${d.rule ?? `TS${d.code}`}: ${message}\n`;
  let source: string;
  try {
    source = readSourceText(d.file).split("\n")[d.line - 1] ?? "";
  } catch {
    return head;
  }
  const gutter = String(d.line);
  const text = printable(source.replace(/\r$/, "").replace(/\t/g, " "));
  return `${head}  ${gutter} | ${text}\n  ${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(0, d.column - 1))}^\n`;
}

/** Paths under the current directory are shown relative to it, as tsc does. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

/** Control characters from a file never reach the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
