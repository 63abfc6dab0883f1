/**
 * Where a plain Node program (a `bin` that is no tsexec script) runs from: a
 * directory laid out like an installed clone, so that Node's own resolution
 * finds the locked dependencies from every module of the package (the bin,
 * `lib/…`, `require.resolve`, `createRequire`, packages looking for the app's
 * package.json), with nothing hooked into Node's loaders.
 *
 *     <cache>/apps/views/<hash>/src/…                 the package's files (a mirror of the checkout)
 *     <cache>/apps/views/<hash>/src/<dir>/node_modules → <cache>/npm/trees/<tree>/node_modules
 *     <cache>/apps/bin/<hash>/<APP>                   → the bin's file, so argv[1] ends in APP
 *
 * A view of a git checkout is made of hard links to the checkout's read-only
 * files and named by the checkout (content-addressed by its commit), so a warm
 * run finds it with one stat and the tree it links is shared with every other
 * commit or project of the same lock. A local directory without node_modules
 * is copied (its files are the user's, never linked or made read-only), and
 * the view is named by a hash of its contents. A local directory that has
 * node_modules (an installed clone), or a package that needs no dependencies,
 * runs where it is, exactly as `node <bin>` would.
 *
 * The source is untrusted: only regular files, directories and relative
 * symbolic links that stay inside the mirror are placed; everything is built
 * in a temporary directory, made read-only and renamed into place.
 */
import { createHash } from "node:crypto";
// The module itself, for realpathSync.native (the build forwards named imports, which carry no properties).
import nodeFs from "node:fs";
import {
  chmodSync,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import { dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import type { PrimitiveContext } from "../monad/io.js";
import { readBounded } from "../base/bounded-read.js";
import { TsexecError } from "../base/errors.js";
import { makeDirectory, makeReadOnly, removeLeftoversOfDeadProcesses, removeTree, uniqueSuffix } from "../base/files.js";
import { printable } from "../base/printable.js";
import type { AppEntry } from "./apps.js";

/** Where the package's files come from: a read-only git checkout, or a local directory (the user's, mutable). */
export type AppSource =
  | { readonly kind: "checkout"; readonly checkout: string }
  | { readonly kind: "local"; readonly dir: string }
  /** A package in an installed tree of the store (`npm:name`): it runs where it is. */
  | { readonly kind: "installed" };

/** The largest source tsexec mirrors (files and bytes): more is refused, not silently cut. */
const maxEntries = 100_000;
const maxBytes = 1024 * 1024 * 1024;

/**
 * The path to give a plain program as process.argv[1]: a link named like the
 * app to its file in a directory laid out like an installed clone.
 */
export async function programPath(app: AppEntry, packageRoot: string, source: AppSource, ctx: PrimitiveContext): Promise<string> {
  const file = await placedFile(app, realpathSync(packageRoot), source, ctx);
  return binLink(app.name, file, ctx.cacheDir);
}

async function placedFile(app: AppEntry, root: string, source: AppSource, ctx: PrimitiveContext): Promise<string> {
  if (source.kind === "installed") return app.file;
  if (source.kind === "local" && isDirectory(join(root, "node_modules"))) return app.file; // an installed clone
  if (!needsDependencies(root)) return app.file;
  const mirrorRoot = realpathSync(source.kind === "checkout" ? source.checkout : source.dir);
  const inside = relative(mirrorRoot, root);
  const views = join(ctx.cacheDir, "apps", "views");
  const { installProjectTree } = await import("../runtime/npm/index.js");
  let view: string;
  if (source.kind === "checkout") {
    // The checkout is immutable (named by its commit): so is its lock, so the view needs no look at the tree when it exists.
    view = join(views, viewKey(["checkout", mirrorRoot, inside, allowed(ctx)]));
    if (!isDirectory(join(view, "src", inside, "node_modules"))) {
      // Missing, or its tree was removed from the store: installing the tree again puts it back where the view's link leads.
      const tree = await installProjectTree(root, ctx);
      if (lstatSync(view, { throwIfNoEntry: false }) === undefined) buildView(view, mirrorRoot, inside, tree, "link");
    }
  } else {
    const tree = await installProjectTree(root, ctx);
    view = join(views, viewKey(["local", contentHash(mirrorRoot), inside, tree ?? ""]));
    if (!isDirectory(join(view, "src"))) buildView(view, mirrorRoot, inside, tree, "copy");
  }
  return join(view, "src", relative(mirrorRoot, app.file));
}

const allowed = (ctx: PrimitiveContext) => String(ctx.options["allow-scripts"] ?? "");

function viewKey(parts: readonly string[]): string {
  return createHash("sha256").update(`tsexec-app-view-1\0${process.platform}-${process.arch}-abi${process.versions.modules}\0${parts.join("\0")}`).digest("hex").slice(0, 32);
}

/** Whether the package declares dependencies or has a lock (otherwise it runs where it is: it requires nothing installed). */
function needsDependencies(root: string): boolean {
  if (isFile(join(root, "package-lock.json")) || isFile(join(root, "npm-shrinkwrap.json"))) return true;
  try {
    // Bounded: a package.json in a cloned directory may be a FIFO, a device, a link out or huge.
    const read = readBounded(join(root, "package.json"), { maxBytes: 1024 * 1024 });
    if (read.kind === "refused") return true; // the install step names what is wrong with it
    if (read.kind !== "text") return false;
    const pkg = JSON.parse(read.text) as { dependencies?: object; optionalDependencies?: object };
    return Object.keys(pkg.dependencies ?? {}).length + Object.keys(pkg.optionalDependencies ?? {}).length > 0;
  } catch {
    return false;
  }
}

/** Builds the view in a temporary directory, then renames it into place (another process may have won: its view is the same). */
function buildView(view: string, mirrorRoot: string, inside: string, tree: string | undefined, how: "link" | "copy"): void {
  const views = dirname(view);
  makeDirectory(views);
  // What a killed build left (only on this, the cold path: a warm run never lists the directory).
  removeLeftoversOfDeadProcesses(views, [/^\.tmp-(\d+)-/]);
  const temp = join(views, `.tmp-${uniqueSuffix()}`);
  try {
    mkdirSync(temp);
    const src = join(temp, "src");
    mkdirSync(src);
    mirror(mirrorRoot, src, how, { entries: 0, bytes: 0 }, mirrorRoot);
    dropLinksOut(src, nodeFs.realpathSync.native(src));
    if (tree !== undefined) {
      const modules = join(src, inside, "node_modules");
      removeTree(modules); // a committed node_modules is not the lock's tree
      symlinkSync(join(realpathSync(tree), "node_modules"), modules);
    }
    makeReadOnly(temp, false);
    try {
      renameSync(temp, view);
    } catch (error) {
      if (!isDirectory(view)) throw error;
      removeTree(temp);
    }
  } catch (error) {
    removeTree(temp);
    if (error instanceof TsexecError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new TsexecError(`cannot lay out ${printable(mirrorRoot)} for running in ${views} (${code}): make the cache directory writable, or choose another with --cache-dir`);
  }
}

/** Places the regular files, directories and inner relative links of `from` under `to`; `.git` and node_modules are left out. */
function mirror(from: string, to: string, how: "link" | "copy", budget: { entries: number; bytes: number }, top: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.name === ".git" || entry.name === "node_modules") continue;
    if (++budget.entries > maxEntries) throw tooBig(top);
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      mkdirSync(target);
      mirror(source, target, how, budget, top);
    } else if (entry.isFile()) {
      const stat = lstatSync(source);
      budget.bytes += stat.size;
      if (budget.bytes > maxBytes) throw tooBig(top);
      if (how === "link") {
        try {
          linkSync(source, target);
          continue;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw error;
        }
      }
      copyFileSync(source, target);
      chmodSync(target, stat.mode & 0o111 ? 0o755 : 0o644);
    } else if (entry.isSymbolicLink()) {
      const link = readlinkSync(source);
      const lands = normalize(join(dirname(relative(top, source)), link));
      // Only links that stay inside the mirror: one out of it would let the program read what the package does not hold.
      if (!isAbsolute(link) && lands !== ".." && !lands.startsWith(`..${sep}`)) symlinkSync(link, target);
    }
  }
}

/**
 * Removes every symbolic link of the mirror that, followed for real, leads out
 * of it or nowhere: a lexical check per link is not enough, since links chain
 * (`up -> .` and `sub/z -> ../up/..` each look inside, and together lead to
 * the mirror's parent).
 */
function dropLinksOut(dir: string, top: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) dropLinksOut(path, top);
    else if (entry.isSymbolicLink()) {
      let real: string | undefined;
      try {
        // The kernel's answer: Node's JavaScript realpath normalizes `..` after a link lexically, and would call `sub/z` inside.
        real = nodeFs.realpathSync.native(path);
      } catch {
        real = undefined;
      }
      if (real === undefined || (real !== top && !real.startsWith(top + sep))) unlinkSync(path);
    }
  }
}

function tooBig(dir: string): TsexecError {
  return new TsexecError(`${printable(dir)} holds more than ${maxEntries} files or ${maxBytes / 1024 / 1024} MiB: too big to lay out for running; install it (npm ci) and run it there`);
}

/** A hash of what a local directory holds (paths, execute bits, contents, inner links), as the view would mirror it. */
function contentHash(dir: string): string {
  const hash = createHash("sha256");
  const budget = { entries: 0, bytes: 0 };
  const visit = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name === ".git" || entry.name === "node_modules") continue;
      if (++budget.entries > maxEntries) throw tooBig(dir);
      const path = join(at, entry.name);
      const name = relative(dir, path);
      if (entry.isDirectory()) {
        hash.update(`d\0${name}\0`);
        visit(path);
      } else if (entry.isFile()) {
        const stat = lstatSync(path);
        budget.bytes += stat.size;
        if (budget.bytes > maxBytes) throw tooBig(dir);
        hash.update(`f\0${name}\0${stat.mode & 0o111 ? "x" : "-"}\0${stat.size}\0`);
        hash.update(readFileSync(path));
      } else if (entry.isSymbolicLink()) {
        hash.update(`l\0${name}\0${readlinkSync(path)}\0`);
      }
    }
  };
  visit(dir);
  return hash.digest("hex");
}

/** `<cache>/apps/bin/<hash of file>/<name>` → file: what process.argv[1] is, as npm's `.bin/<name>` link would be. */
function binLink(name: string, file: string, cacheDir: string): string {
  // The name comes from an untrusted package.json: a plain file name only, never a path.
  if (name === "" || name === "." || name === ".." || /[/\\\0-\x1f\x7f]/.test(name)) {
    throw new TsexecError(`the bin '${printable(name)}' is not a file name: a bin's name may not hold '/', '\\' or control characters`);
  }
  const dir = join(cacheDir, "apps", "bin", createHash("sha256").update(`${file}\0${name}`).digest("hex").slice(0, 24));
  const link = join(dir, name);
  if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) return link;
  const parent = dirname(dir);
  makeDirectory(parent);
  const temp = join(parent, `.tmp-${uniqueSuffix()}`);
  try {
    mkdirSync(temp);
    symlinkSync(file, join(temp, name));
    renameSync(temp, dir);
  } catch (error) {
    removeTree(temp);
    if (!lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new TsexecError(`cannot make the link ${printable(link)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): make the cache directory writable, or choose another with --cache-dir`);
    }
  }
  return link;
}

const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() === true;
