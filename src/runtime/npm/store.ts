/**
 * The package store and the installed trees.
 *
 *     <cache>/npm/packages/<name>@<version>-<hash>/   one extracted tarball, read-only
 *     <cache>/npm/trees/<hash>/node_modules/…          one installed tree, read-only
 *
 * A package is stored once, whatever lock it came from: a tree is made of
 * hard links to the store's files (a copy only where install scripts run,
 * or where the file system refuses links), laid out as the lock says, so
 * Node's own resolution finds each package's dependencies. A package with no
 * dependencies at all needs no place of its own: it is a symbolic link to the
 * store's copy (Node resolves it there), which saves a tree its directories.
 * A tree is named
 * by a hash of what defines it (its packages, their integrities and places,
 * the scripts allowed, the platform and Node's ABI).
 *
 * Entries are built in a `.tmp-<pid>-…` directory and renamed into place,
 * under a lock file per tree, so of several processes installing the same
 * tree one does the work and the others wait for it; what a killed process
 * left (a temporary directory, a lock whose owner is dead) is removed by the
 * next install.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, posix } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { makeDirectory, makeReadOnly, removeLeftoversOfDeadProcesses, removeTree, uniqueSuffix } from "../../base/files.js";
import { acquireLock, lockLeftovers } from "../../base/file-lock.js";
import { removeOnExit } from "../../base/shutdown.js";
import { markUsed } from "../../base/last-use.js";
import { linkBins, makeBinsExecutable } from "./bins.js";
import { tarballUrl, type NpmConfig } from "./config.js";
import { fromNpmCache, get, parseIntegrity, shortHash, verifyIntegrity } from "./fetch.js";
import { platformKey } from "./platform.js";
import { buildsWithGyp, runInstallScripts, type ScriptedPackage } from "./scripts.js";
import { extractTarball, printable } from "./tar.js";

export interface PackageSpec {
  readonly name: string;
  readonly version: string;
  /** SRI of the tarball. */
  readonly integrity: string;
  /** The tarball URL, when the lock records one. */
  readonly resolved?: string | undefined;
  readonly hasInstallScript?: boolean | undefined;
}

export interface TreePlan {
  /** Where each package goes, relative to the tree (`node_modules/a/node_modules/b`). */
  readonly placements: readonly { readonly path: string; readonly pkg: PackageSpec }[];
  /** Symbolic links inside the tree: `path` → `target` (both relative to the tree). */
  readonly links: readonly { readonly path: string; readonly target: string }[];
  /** Names of packages whose install scripts may run. */
  readonly allowScripts: ReadonlySet<string>;
  /**
   * The text of the tree's own `package.json`, beside its `node_modules` as in a project
   * (see rootManifest): packages that look for "the app's package.json" above their
   * `node_modules` (yargs reads its version and config that way) find it there, as they
   * would in a local install, instead of searching the cache and everything above it.
   */
  readonly manifest: string;
}

/** The package.json of a tree made for no project (`npm:` specifiers): it names no package. */
export const anonymousManifest = `${JSON.stringify({ description: "npm packages installed by tsexec (docs/npm.md)", private: true }, null, 2)}\n`;

export interface InstallOptions {
  readonly cacheDir: string;
  readonly config: NpmConfig;
  readonly offline: boolean;
  readonly log: (line: string) => void;
}

const namePattern = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/i;
const versionPattern = /^[0-9A-Za-z.+-]+$/;

export function checkPackageName(name: string, where: string): void {
  if (!namePattern.test(name) || name.length > 214) throw new TsexecError(`${where}: '${printable(name)}' is not a valid npm package name`);
}

export const describePackage = (pkg: PackageSpec) => `${pkg.name}@${pkg.version}`;

function storeName(pkg: PackageSpec): string {
  const integrity = parseIntegrity(pkg.integrity);
  if (!integrity) throw new TsexecError(`${describePackage(pkg)}: the lock's integrity '${printable(pkg.integrity)}' is not an SRI hash (sha512-…)`);
  checkPackageName(pkg.name, describePackage(pkg));
  if (!versionPattern.test(pkg.version)) throw new TsexecError(`${pkg.name}: '${printable(pkg.version)}' is not a version`);
  return `${pkg.name.replace("/", "+")}@${pkg.version}-${shortHash(integrity)}`;
}

/** The hash naming a tree. */
export function treeKey(plan: TreePlan): string {
  const hash = createHash("sha256");
  hash.update(`tsexec-tree-3\0${platformKey()}\0${plan.manifest}\0`);
  for (const { path, pkg } of [...plan.placements].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    // Allowed at all, not only flagged: npm's rule finds a binding.gyp in the package itself. (v2: node-gyp and .bin links.)
    const scripts = plan.allowScripts.has(pkg.name) ? "scripts-v2" : "";
    hash.update(`${path}\0${pkg.name}\0${pkg.version}\0${pkg.integrity}\0${scripts}\n`);
  }
  for (const link of [...plan.links].sort((a, b) => (a.path < b.path ? -1 : 1))) hash.update(`link\0${link.path}\0${link.target}\n`);
  return hash.digest("hex").slice(0, 32);
}

export function treeDirectory(cacheDir: string, plan: TreePlan): string {
  return join(cacheDir, "npm", "trees", treeKey(plan));
}

const exists = (path: string) => statSync(path, { throwIfNoEntry: false }) !== undefined;

/** The tree for `plan`, installed now if it is not yet. Resolves to its directory. */
export async function ensureTree(plan: TreePlan, options: InstallOptions): Promise<string> {
  const treesDir = join(options.cacheDir, "npm", "trees");
  const treeDir = join(treesDir, treeKey(plan));
  if (exists(treeDir)) {
    markUsed(treeDir); // the last-use mark tsexec gc reads
    return treeDir;
  }
  makeDirectory(treesDir);
  const release = await acquireLock(`${treeDir}.lock`, { what: `the install of ${treeDir}`, log: options.log, done: () => exists(treeDir) });
  if (release === undefined) return treeDir;
  try {
    if (exists(treeDir)) return treeDir;
    removeLeftovers(treesDir);
    removeLeftovers(join(options.cacheDir, "npm", "packages"));
    const stored = await storePackages(plan.placements.map((p) => p.pkg), options);
    const temp = join(treesDir, `.tmp-${uniqueSuffix()}`);
    // Install scripts run while the tree is assembled: a signal then exits before this unwinds.
    const removed = removeOnExit(temp);
    try {
      const skipped = await assemble(temp, plan, stored, options.config);
      makeReadOnly(temp);
      renameSync(temp, treeDir);
      removed();
      if (skipped.length) {
        const names = [...new Set(skipped.map((p) => p.name))];
        options.log(
          `install scripts not run for ${skipped.map(describePackage).join(", ")} (allow them with --allow-scripts=${names.join(",")}, or "tsexec": { "allowScripts": [...] } in package.json)`,
        );
      }
    } catch (error) {
      removeTree(temp);
      removed();
      throw error;
    }
    return treeDir;
  } finally {
    release();
  }
}

// ---- the package store ----

/** Stores every package (each once); resolves to store directory by store name. */
async function storePackages(packages: readonly PackageSpec[], options: InstallOptions): Promise<Map<PackageSpec, string>> {
  const packagesDir = join(options.cacheDir, "npm", "packages");
  makeDirectory(packagesDir);
  const byName = new Map<string, PackageSpec>();
  for (const pkg of packages) byName.set(storeName(pkg), pkg);
  const pending = [...byName].filter(([name]) => !exists(join(packagesDir, name)));
  const queue = pending.values();
  const worker = async () => {
    for (let next = queue.next(); !next.done; next = queue.next()) {
      const [name, pkg] = next.value;
      await storePackage(pkg, join(packagesDir, name), packagesDir, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, pending.length) }, worker));
  const out = new Map<PackageSpec, string>();
  for (const pkg of packages) out.set(pkg, join(packagesDir, storeName(pkg)));
  return out;
}

async function storePackage(pkg: PackageSpec, dir: string, packagesDir: string, options: InstallOptions): Promise<void> {
  const what = describePackage(pkg);
  const integrity = parseIntegrity(pkg.integrity)!;
  let data = fromNpmCache(options.config.cacache, integrity);
  let from = "npm's cache";
  if (data === undefined) {
    const url = pkg.resolved ?? tarballUrl(options.config, pkg.name, pkg.version);
    if (options.offline) {
      throw new TsexecError(`${what} is neither in tsexec's store nor in npm's cache, and --offline forbids fetching it from ${url}: run once online, or npm cache add ${what}`);
    }
    data = await get(url, options.config, what, options.config.registryFor(pkg.name));
    from = url;
  }
  verifyIntegrity(data, integrity, what, from);
  const temp = join(packagesDir, `.tmp-${uniqueSuffix()}`);
  try {
    mkdirSync(temp);
    try {
      extractTarball(data, temp, what);
    } catch (error) {
      if (error instanceof TsexecError) throw error;
      throw new TsexecError(`${what}: the tarball cannot be extracted (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); the package was not stored`);
    }
    makeReadOnly(temp);
    try {
      renameSync(temp, dir);
    } catch (error) {
      // Stored meanwhile by another install (of another tree): the same bytes, verified.
      if (!exists(dir)) throw error;
      removeTree(temp);
    }
  } catch (error) {
    removeTree(temp);
    throw error;
  }
}

// ---- trees ----

/** Lays the tree out in `temp`; returns the packages whose install scripts were skipped. */
async function assemble(temp: string, plan: TreePlan, stored: Map<PackageSpec, string>, config: NpmConfig): Promise<PackageSpec[]> {
  mkdirSync(temp);
  const skipped: PackageSpec[] = [];
  const scripted: ScriptedPackage[] = [];
  for (const { path, pkg } of [...plan.placements].sort((a, b) => a.path.length - b.path.length)) {
    const dir = join(temp, path);
    // npm decides from the package too: a binding.gyp it would build counts where the lock does not say so.
    const hasScripts = pkg.hasInstallScript === true || buildsWithGyp(stored.get(pkg)!);
    const runsScripts = hasScripts && plan.allowScripts.has(pkg.name);
    // Every package gets a directory of its own in the tree (hard links to the store's files), never a
    // link into the store: code that finds "the app" above the node_modules it was installed in
    // (app-root-path, yargs) must find the tree's package.json, as in a local install.
    mkdirSync(dir, { recursive: true });
    if (runsScripts) {
      // Scripts may write into their package: give it its own copy, not links into the store.
      copyTree(stored.get(pkg)!, dir);
      scripted.push({ dir, what: describePackage(pkg), name: pkg.name, version: pkg.version });
    } else {
      linkTree(stored.get(pkg)!, dir);
      if (hasScripts) skipped.push(pkg);
    }
  }
  for (const link of plan.links) {
    const path = join(temp, link.path);
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync(link.target, path);
  }
  writeFileSync(join(temp, "package.json"), plan.manifest);
  linkBins(temp, binEntries(plan));
  // Dependencies first: the deepest packages' scripts run before their dependents'.
  scripted.sort((a, b) => b.dir.length - a.dir.length);
  await runInstallScripts(scripted, temp, config, join(dirname(temp), `.tmp-${uniqueSuffix()}`));
  // A bin an install script made (a compiled tool) is made executable too.
  for (const pkg of scripted) makeBinsExecutable(pkg.dir, pkg.name, pkg.what);
  return skipped;
}

/** Every place a package is reachable at as `…/node_modules/<name>`: its placements, and the links to them. */
function binEntries(plan: TreePlan): { path: string; name: string; what: string }[] {
  const byPath = new Map(plan.placements.map((p) => [p.path, p.pkg]));
  const entries = plan.placements.map(({ path, pkg }) => ({ path, name: pkg.name, what: describePackage(pkg) }));
  for (const link of plan.links) {
    const pkg = byPath.get(posix.join(posix.dirname(link.path), link.target));
    if (pkg) entries.push({ path: link.path, name: pkg.name, what: describePackage(pkg) });
  }
  return entries;
}

/** Hard links of every file of `from` under `to` (copies where links are refused); existing files stay. */
function linkTree(from: string, to: string): void {
  placeFiles(from, to, (source, target) => {
    try {
      linkSync(source, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return; // a bundled copy and a placement of the same file: the first stays
      if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw error;
      copyFileSync(source, target);
    }
  });
}

/** Writable copies of every file of `from` under `to`, keeping only the execute bit (for install scripts to write into). */
function copyTree(from: string, to: string): void {
  placeFiles(from, to, (source, target) => {
    copyFileSync(source, target);
    chmodSync(target, lstatSync(source).mode & 0o111 ? 0o755 : 0o644);
  });
}

/** Recreates the directories of `from` under `to` and places each regular file with `place` (links and others are skipped). */
function placeFiles(from: string, to: string, place: (source: string, target: string) => void): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      mkdirSync(target, { recursive: true });
      placeFiles(source, target, place);
    } else if (entry.isFile()) {
      place(source, target);
    }
  }
}

/** Removes temporary entries (`.tmp-<pid>-…`, stale locks) of processes that are gone. */
function removeLeftovers(dir: string): void {
  removeLeftoversOfDeadProcesses(dir, [/^\.tmp-(\d+)-/, lockLeftovers]);
}
