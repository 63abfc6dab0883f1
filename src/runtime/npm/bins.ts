/**
 * `node_modules/.bin`: npm's links to the executables packages declare in
 * their package.json `bin`, so the install scripts of a tree can call other
 * packages' tools by name (as `npm run` and npm's install scripts can). A
 * package at `<dir>/node_modules/<name>` gets its links in
 * `<dir>/node_modules/.bin`, as npm lays them out; a dependency linked beside
 * a package of a tsexec.lock tree gets them beside it too, where that
 * package's scripts look (see `scriptPath` in scripts.ts).
 *
 * A `bin` comes from a package, so it is untrusted: a name that is not a plain
 * file name, or a path that leads out of the package, is refused.
 */
import { chmodSync, lstatSync, mkdirSync, symlinkSync } from "node:fs";
import { join, posix } from "node:path";
import { readBoundedText } from "../../base/bounded-read.js";
import { TsexecError } from "../../base/errors.js";
import { printable } from "./tar.js";

export interface Bin {
  /** The command's name: the link's name in `.bin`. */
  readonly name: string;
  /** The file it runs, relative to the package and inside it (`bin/cli.js`). */
  readonly target: string;
}

/** The `bin` entries of a package's manifest; `what` (name@version) names the package in errors. */
export function binsOf(manifest: { name?: unknown; bin?: unknown }, packageName: string, what: string): Bin[] {
  const declared: [string, unknown][] =
    typeof manifest.bin === "string"
      ? [[packageName.slice(packageName.indexOf("/") + 1), manifest.bin]] // `"bin": "cli.js"` is named after the package, without its scope
      : typeof manifest.bin === "object" && manifest.bin !== null && !Array.isArray(manifest.bin)
        ? Object.entries(manifest.bin)
        : [];
  const bins: Bin[] = [];
  for (const [name, target] of declared) {
    if (typeof target !== "string") continue; // npm ignores what is not a path
    if (name === "" || name === "." || name === ".." || /[/\\\0-\x1f\x7f]/.test(name)) {
      throw new TsexecError(`${what}: its package.json declares the bin '${printable(name)}', which is not a file name: tsexec refuses to link it`);
    }
    const normal = posix.normalize(target.replace(/\\/g, "/"));
    if (posix.isAbsolute(normal) || normal === "." || normal === ".." || normal.startsWith("../") || /[\0-\x1f\x7f]/.test(normal)) {
      throw new TsexecError(`${what}: its bin '${printable(name)}' points at '${printable(target)}', outside the package: tsexec refuses to link it`);
    }
    bins.push({ name, target: normal });
  }
  return bins;
}

/** The package.json of the package in `dir`, or an empty one if it has none that parses (npm links nothing then). */
export function readManifest(dir: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(readBoundedText(join(dir, "package.json")) ?? "{}") as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Links the bins of each package at `entries` (paths relative to `root`, each
 * ending in `node_modules/<name>`) into `.bin` beside it. The first package
 * (by path) to claim a name in a directory keeps it, so the tree is the same
 * whatever order the lock lists packages in.
 */
export function linkBins(root: string, entries: readonly { readonly path: string; readonly name: string; readonly what: string }[]): void {
  const claimed = new Set<string>();
  // A package reached at several places (links to it, copies of one version) is read once.
  const known = new Map<string, Bin[]>();
  for (const entry of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const dir = join(root, entry.path);
    let bins = known.get(entry.what);
    if (bins === undefined) {
      bins = binsOf(readManifest(dir), entry.name, entry.what);
      known.set(entry.what, bins);
      for (const bin of bins) makeExecutable(join(dir, bin.target));
    }
    const at = entry.path.lastIndexOf("node_modules/");
    const binDir = `${entry.path.slice(0, at)}node_modules/.bin`;
    const alias = entry.path.slice(at + "node_modules/".length);
    for (const bin of bins) {
      const link = `${binDir}/${bin.name}`;
      if (claimed.has(link)) continue;
      claimed.add(link);
      mkdirSync(join(root, binDir), { recursive: true });
      // From `<dir>/node_modules/.bin`, `..` is `<dir>/node_modules`, where the package (scoped or not) is.
      symlinkSync(`../${alias}/${bin.target}`, join(root, link));
    }
  }
}

/** npm makes the files a package's bins name executable (tarballs often lose the bit); after its install scripts too. */
export function makeBinsExecutable(dir: string, packageName: string, what: string): void {
  for (const bin of binsOf(readManifest(dir), packageName, what)) makeExecutable(join(dir, bin.target));
}

/**
 * The file may be a hard link into the store, shared by every tree: adding the
 * execute bit there is what every one of them wants. A target that does not
 * exist (yet: an install script may make it) or is not a regular file is left.
 */
function makeExecutable(file: string): void {
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile() || (stat.mode & 0o111) === 0o111) return;
  try {
    chmodSync(file, stat.mode | 0o111);
  } catch {
    // Not ours to change (a store shared with another user): the bin stays as it was.
  }
}
