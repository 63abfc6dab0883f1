/**
 * Apps by name, as `nix run flake#app`: `tsexec <ref>#deploy` (or
 * `./tools#deploy`, `.#deploy`) runs the script that the package.json `bin`
 * of the reference's directory maps `deploy` to (npm's convention for tools;
 * a string `bin` maps the package's own name). Without a fragment, a `bin`
 * with a single entry names the script; otherwise default.ts, then index.ts.
 * A fragment that is a path (a `/` or an extension) is a path, as before.
 */
import { closeSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { readBounded, readBoundedText } from "../base/bounded-read.js";
import { TsexecError } from "../base/errors.js";
import { printable } from "../base/printable.js";

/** A fragment that names an app rather than a path: no `/` and no extension. */
export function isAppName(fragment: string): boolean {
  return fragment !== "" && fragment !== "." && fragment !== ".." && !fragment.includes("/") && !/\.[A-Za-z0-9]+$/.test(fragment);
}

/** The package.json `bin` of `root` as name → path (undefined without a package.json or a bin). */
export function readBin(root: string, what: string): Record<string, string> | undefined {
  const file = join(root, "package.json");
  // Bounded: the reference or cloned directory may make package.json a FIFO, /dev/zero, a link out, or huge.
  const text = readBoundedText(file, { fix: "a package.json must be a regular file in its directory" });
  if (text === undefined) return undefined;
  let pkg: { name?: unknown; bin?: unknown; directories?: { bin?: unknown } };
  try {
    pkg = JSON.parse(text) as typeof pkg;
  } catch {
    throw new TsexecError(`${what}: its package.json is not valid JSON, so its apps (bin) cannot be read`);
  }
  if (typeof pkg !== "object" || pkg === null) return undefined;
  if (typeof pkg.bin === "string") {
    if (typeof pkg.name !== "string" || pkg.name === "") throw new TsexecError(`${what}: package.json has a string 'bin' but no 'name' to call it by`);
    return { [pkg.name.replace(/^@[^/]*\//, "")]: pkg.bin };
  }
  if (pkg.bin === undefined && typeof pkg.directories?.bin === "string") return binDirectory(root, pkg.directories.bin);
  if (typeof pkg.bin !== "object" || pkg.bin === null || Array.isArray(pkg.bin)) return undefined;
  const bin = Object.create(null) as Record<string, string>; // names are data: no prototype to find `constructor` in
  for (const [name, path] of Object.entries(pkg.bin as Record<string, unknown>)) if (typeof path === "string") bin[name] = path;
  return bin;
}

/**
 * npm's `directories.bin` (read only when there is no `bin`): every regular file
 * of that directory is a bin named by its file name. Only the directory's own
 * files, not those of its subdirectories; paths out of the package are refused
 * by binTarget like any bin entry.
 */
function binDirectory(root: string, dir: string): Record<string, string> {
  const normal = normalize(dir);
  if (isAbsolute(dir) || normal === ".." || normal.startsWith(`..${sep}`)) return {};
  let names: string[];
  try {
    const real = realpathSync(join(root, normal));
    if (!real.startsWith(realpathSync(root) + sep)) return {};
    names = readdirSync(real, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith("."))
      .map((e) => e.name)
      .slice(0, 1000);
  } catch {
    return {};
  }
  return Object.fromEntries(names.sort().map((name) => [name, `${normal.split(sep).join("/")}/${name}`]));
}

/** A bin `fragment` (or the single bin) names: its name and file. */
export interface AppEntry {
  readonly name: string;
  readonly file: string;
}

/**
 * The script `fragment` names through `root`'s package.json `bin`, confined to
 * `boundary` (the checkout, or the local directory); undefined when the bin
 * does not decide (a path fragment, no bin, a name that is a file or directory).
 */
export function appScript(root: string, boundary: string, fragment: string | undefined, what: string): string | undefined {
  return appEntry(root, boundary, fragment, what)?.file;
}

/** As appScript, with the app's name (a plain program sees it as the last part of process.argv[1]). */
export function appEntry(root: string, boundary: string, fragment: string | undefined, what: string): AppEntry | undefined {
  if (fragment !== undefined && !isAppName(fragment)) return undefined;
  const bin = readBin(root, what);
  if (fragment === undefined) {
    const names = Object.keys(bin ?? {});
    const only = names.length === 1 ? names[0]! : undefined;
    return only === undefined ? undefined : { name: only, file: binTarget(root, boundary, only, bin![only]!, what) };
  }
  if (bin !== undefined && Object.hasOwn(bin, fragment)) return { name: fragment, file: binTarget(root, boundary, fragment, bin[fragment]!, what) };
  if (exists(join(root, fragment))) return undefined;
  const apps = Object.keys(bin ?? {});
  throw new TsexecError(
    `${what} has no app '${printable(fragment)}': ${apps.length ? `its package.json bin names ${apps.map(printable).join(", ")}` : "it has no package.json bin and no file of that name"}` +
      ` (a path needs a '/' or an extension: #./${printable(fragment)}.ts)`,
  );
}

/** The file a bin entry points at, refusing one outside `boundary` or missing. */
function binTarget(root: string, boundary: string, name: string, path: string, what: string): string {
  const shown = `bin '${printable(name)}' → '${printable(path)}'`;
  const normal = normalize(path);
  if (isAbsolute(path) || normal === ".." || normal.startsWith(`..${sep}`)) {
    throw new TsexecError(`${what}: package.json ${shown} points outside the checkout: bin paths must stay inside it`);
  }
  const missing = () => {
    const build = buildScript(root);
    if (build !== undefined) {
      return new TsexecError(
        `${what}: package.json ${shown} is not in the checkout: it is made by a build step (the package's '${printable(build.name)}' script: ${printable(build.command)}), ` +
          `and tsexec runs no build steps: run a commit or release that contains it, or a clone built with npm install`,
      );
    }
    return new TsexecError(`${what}: package.json ${shown} names no file: fix the bin entry, or run a script by path (#path/to/script.ts)`);
  };
  // Where the links lead is settled before anything there is looked at: a file outside is never stat'ed.
  let real: string;
  try {
    real = realpathSync(join(root, normal));
  } catch {
    throw missing();
  }
  if (!real.startsWith(realpathSync(boundary) + sep)) {
    throw new TsexecError(`${what}: package.json ${shown} points outside the checkout (through a symlink to ${printable(real)})`);
  }
  if (!statSync(real, { throwIfNoEntry: false })?.isFile()) throw missing();
  return real;
}

/** The scripts npm runs to build a package before it is packed or installed from git, in the order that names the build best. */
const buildScripts = ["prepare", "build", "prepack", "prepublishOnly", "prepublish"];

/** The first build script of `root`'s package.json, if it has one (bounded read: the file is untrusted). */
function buildScript(root: string): { name: string; command: string } | undefined {
  try {
    const read = readBounded(join(root, "package.json"), { maxBytes: 1024 * 1024 });
    if (read.kind !== "text") return undefined;
    const scripts = (JSON.parse(read.text) as { scripts?: Record<string, unknown> }).scripts ?? {};
    for (const name of buildScripts) {
      const command = scripts[name];
      if (typeof command === "string" && command.trim() !== "") return { name, command: command.length > 80 ? `${command.slice(0, 77)}...` : command };
    }
  } catch {
    // No readable package.json: no build script to name.
  }
  return undefined;
}

/** What an app's file is: a tsexec script (a default export the runtime calls) or a plain Node program. */
export type AppKind = "tsexec script" | "plain program";

/**
 * Tells a tsexec script from a plain Node program, without running it: a
 * TypeScript file, or a shebang naming tsexec, is a script; a shebang naming
 * node (npm's bins) is a program; otherwise a file that imports tsexec or has
 * a default export is a script, anything else a program. Reads at most 64 KiB.
 */
export function appKind(file: string): AppKind {
  if (/\.(ts|mts|cts)$/.test(file)) return "tsexec script";
  let head = "";
  try {
    const fd = openSync(file, "r");
    try {
      const buffer = Buffer.alloc(64 * 1024);
      head = buffer.toString("utf8", 0, readSync(fd, buffer, 0, buffer.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return "tsexec script"; // unreadable: the script loader says why
  }
  const shebang = /^#!([^\n]*)/.exec(head)?.[1];
  if (shebang !== undefined && /\btsexec\b/.test(shebang)) return "tsexec script";
  if (shebang !== undefined && /\b(node|nodejs)\b/.test(shebang)) return "plain program";
  return /\bfrom\s*["']tsexec["']|\brequire\(\s*["']tsexec["']\s*\)|\bexport\s+default\b/.test(head) ? "tsexec script" : "plain program";
}

export interface AppInfo {
  readonly name: string;
  /** The script, relative to `root` ('/'-separated), or undefined when the entry is broken. */
  readonly script: string | undefined;
  /** Why the entry is broken. */
  readonly problem?: string;
  /** Whether it is a tsexec script or a plain Node program (undefined when broken). */
  readonly kind?: AppKind;
}

/** Every bin entry of `root`, for `tsexec show`; broken entries carry their error instead of throwing. */
export function listApps(root: string, boundary: string, what: string): AppInfo[] {
  const bin = readBin(root, what);
  if (bin === undefined) return [];
  return Object.keys(bin)
    .sort()
    .map((name) => {
      try {
        const file = binTarget(root, boundary, name, bin[name]!, what);
        return { name, script: relative(realpathSync(root), file).split(sep).join("/"), kind: appKind(file) };
      } catch (error) {
        return { name, script: undefined, problem: (error as Error).message };
      }
    });
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
