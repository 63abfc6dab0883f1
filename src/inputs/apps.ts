/**
 * Apps by name, as `nix run flake#app`: `tsexec <ref>#deploy` (or
 * `./tools#deploy`, `.#deploy`) runs the script that the package.json `bin`
 * of the reference's directory maps `deploy` to (npm's convention for tools;
 * a string `bin` maps the package's own name). Without a fragment, a `bin`
 * with a single entry names the script; otherwise default.ts, then index.ts.
 * A fragment that is a path (a `/` or an extension) is a path, as before.
 */
import { realpathSync, statSync } from "node:fs";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { readBoundedText } from "../base/bounded-read.js";
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
  let pkg: { name?: unknown; bin?: unknown };
  try {
    pkg = JSON.parse(text) as { name?: unknown; bin?: unknown };
  } catch {
    throw new TsexecError(`${what}: its package.json is not valid JSON, so its apps (bin) cannot be read`);
  }
  if (typeof pkg !== "object" || pkg === null) return undefined;
  if (typeof pkg.bin === "string") {
    if (typeof pkg.name !== "string" || pkg.name === "") throw new TsexecError(`${what}: package.json has a string 'bin' but no 'name' to call it by`);
    return { [pkg.name.replace(/^@[^/]*\//, "")]: pkg.bin };
  }
  if (typeof pkg.bin !== "object" || pkg.bin === null || Array.isArray(pkg.bin)) return undefined;
  const bin = Object.create(null) as Record<string, string>; // names are data: no prototype to find `constructor` in
  for (const [name, path] of Object.entries(pkg.bin as Record<string, unknown>)) if (typeof path === "string") bin[name] = path;
  return bin;
}

/**
 * The script `fragment` names through `root`'s package.json `bin`, confined to
 * `boundary` (the checkout, or the local directory); undefined when the bin
 * does not decide (a path fragment, no bin, a name that is a file or directory).
 */
export function appScript(root: string, boundary: string, fragment: string | undefined, what: string): string | undefined {
  if (fragment !== undefined && !isAppName(fragment)) return undefined;
  const bin = readBin(root, what);
  if (fragment === undefined) {
    const names = Object.keys(bin ?? {});
    const only = names.length === 1 ? names[0]! : undefined;
    return only === undefined ? undefined : binTarget(root, boundary, only, bin![only]!, what);
  }
  if (bin !== undefined && Object.hasOwn(bin, fragment)) return binTarget(root, boundary, fragment, bin[fragment]!, what);
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
  const missing = () => new TsexecError(`${what}: package.json ${shown} names no file: fix the bin entry, or run a script by path (#path/to/script.ts)`);
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

export interface AppInfo {
  readonly name: string;
  /** The script, relative to `root` ('/'-separated), or undefined when the entry is broken. */
  readonly script: string | undefined;
  /** Why the entry is broken. */
  readonly problem?: string;
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
        return { name, script: relative(realpathSync(root), file).split(sep).join("/") };
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
