/**
 * npm packages for scripts, with nothing installed by hand (docs/npm.md).
 * The loader calls this (loaded lazily, on a cold transpile only) for:
 *
 * - `npm:name@range/subpath` specifiers: pinned in the script directory's
 *   tsexec.lock (written on the first run), installed from the lock;
 * - bare imports no node_modules provides, in a project whose package.json
 *   has a package-lock.json or npm-shrinkwrap.json: exactly the locked tree;
 *   without a lock, the package.json's ranges, after a warning.
 *
 * Installed trees live in the store (store.ts); the transpiled script imports
 * files there by absolute URL, so a warm run reaches none of this.
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { lockPath, lockVersion, readLock, updateLock, type LockFile, type NpmLockPackage } from "../../base/lockfile.js";
import { defaultRegistry, loadNpmConfig, type NpmConfig } from "./config.js";
import { closeConnections } from "./fetch.js";
import { fitsThisPlatform } from "./platform.js";
import { allowedByPackageJson, planFromPackageLock } from "./project.js";
import { RegistryResolver, splitAlias } from "./resolve-registry.js";
import { anonymousManifest, checkPackageName, ensureTree, type PackageSpec, type TreePlan } from "./store.js";
import { printable } from "./tar.js";

export interface PackageLocation {
  /** The package's directory in an installed tree (undefined: the tree does not have it). */
  readonly packageDir: string | undefined;
  /** Files whose change must make the loader resolve again (the lock, package.json). */
  readonly dependsOn: readonly string[];
}

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() === true;

function allowScripts(ctx: PrimitiveContext, projectDir?: string): Set<string> {
  const flag = ctx.options["allow-scripts"];
  const names = typeof flag === "string" ? flag.split(",").map((s) => s.trim()).filter(Boolean) : [];
  return new Set([...names, ...(projectDir === undefined ? [] : allowedByPackageJson(projectDir))]);
}

function install(plan: TreePlan, config: NpmConfig, ctx: PrimitiveContext): Promise<string> {
  return ensureTree(plan, { cacheDir: ctx.cacheDir, config, offline: ctx.options.offline === true, log: (line) => ctx.log(line) })
    .catch((error: unknown) => {
      // A file-system failure in the store (a cache directory that cannot be written, a full disk) is the user's to fix.
      const code = (error as NodeJS.ErrnoException).code;
      if (error instanceof TsexecError || typeof code !== "string") throw error;
      const path = (error as NodeJS.ErrnoException).path ?? join(ctx.cacheDir, "npm");
      throw new TsexecError(`cannot install npm packages into ${path} (${code}): make the cache directory writable, or choose another with --cache-dir or $TSEXEC_CACHE_DIR`);
    })
    .finally(closeConnections);
}

// ---- npm: specifiers ----

export interface NpmSpecifier {
  readonly name: string;
  readonly range: string | undefined;
  /** `.` or `./sub/path`. */
  readonly subpath: string;
  /** The lock's key for it: `name@range`, or `name` without a range. */
  readonly key: string;
}

/** Parses what follows `npm:` (`name@range/sub`, `@scope/name@range/sub`, `name/sub`, `name`). */
export function parseNpmSpecifier(text: string): NpmSpecifier {
  const body = text.startsWith("/") ? text.slice(1) : text;
  const scoped = body.startsWith("@");
  const nameEnd = scoped ? body.indexOf("/") + 1 : 0;
  const rest = body.slice(nameEnd);
  const m = /^([^@/]+)(?:@([^/]*))?(\/.*)?$/.exec(rest);
  if ((scoped && nameEnd === 0) || !m) throw new TsexecError(`'npm:${printable(text)}' is not an npm specifier: write npm:<name>[@<range>][/<subpath>]`);
  const name = body.slice(0, nameEnd) + m[1];
  const range = m[2] === undefined || m[2] === "" ? undefined : m[2];
  return { name, range, subpath: m[3] ? `.${m[3]}` : ".", key: range === undefined ? name : `${name}@${range}` };
}

/**
 * Where the package an `npm:` specifier names is installed. On the first run
 * every `npm:` specifier of the importing module is resolved at once (one
 * lock write, one tree) and pinned in the directory's tsexec.lock.
 */
export async function locateNpmSpecifier(text: string, importer: string, ctx: PrimitiveContext): Promise<PackageLocation & { subpath: string }> {
  const spec = parseNpmSpecifier(text);
  const dir = dirname(importer);
  const lockFile = lockPath(dir);
  const lock: LockFile = readLock(dir) ?? { version: 1 };
  const packages: Record<string, NpmLockPackage> = { ...lock.npm?.packages };
  const specifiers: Record<string, string> = { ...lock.npm?.specifiers };
  const config = loadNpmConfig(projectDirOf(dir, ctx.cacheDir));
  const unlocked = (s: NpmSpecifier) => specifiers[s.key] === undefined || missingFrom(packages, [specifiers[s.key]!]).length > 0;
  // What this call resolved, recorded once the tree is installed (a tarball that fails its integrity check leaves no lock entry).
  let toRecord: Record<string, string> | undefined;
  let toWarn: NpmSpecifier[] = [];
  if (unlocked(spec)) {
    const wanted = [spec, ...specifiersIn(importer).filter((s) => s.key !== spec.key && unlocked(s))];
    if (ctx.options.frozen === true) {
      // Every specifier the module lacks, at once: one run tells the whole fix.
      const lacking = wanted.map((s) => (specifiers[s.key] === undefined ? `npm:${s.key}` : `npm:${s.key} (needs ${missingFrom(packages, [specifiers[s.key]!]).join(", ")})`));
      throw new TsexecError(
        `${importer}: ${lockFile} does not pin ${lacking.join(", ")}, and --frozen (TSEXEC_FROZEN) forbids changing it: run without --frozen to lock ${wanted.length > 1 ? "them" : "it"}, and commit the lock`,
      );
    }
    // Offline, only what npm's cache knows resolves a range.
    const offline = ctx.options.offline === true;
    const resolver = new RegistryResolver(config, packages, offline);
    try {
      const keys = await Promise.all(
        wanted.map((s) =>
          resolver.resolve(s.name, s.range, `npm:${s.key} (imported from ${importer})`).catch((error: unknown) => {
            if (offline && error instanceof TsexecError) throw offlineRefusal(s, importer, lockFile, error);
            throw error;
          }),
        ),
      );
      wanted.forEach((s, i) => (specifiers[s.key] = keys[i]!));
    } finally {
      closeConnections();
    }
    toRecord = Object.fromEntries(wanted.map((s) => [s.key, specifiers[s.key]!]));
    toWarn = wanted;
  }
  const key = specifiers[spec.key]!;
  const plan = planFromLock(lockFile, Object.values(specifiers), packages, allowScripts(ctx));
  const tree = await install(plan, config, ctx);
  if (toRecord !== undefined) recordResolved(dir, toRecord, toWarn, specifiers, packages, ctx);
  return { packageDir: join(tree, virtualPath(key, splitAlias(key).name)), subpath: spec.subpath, dependsOn: isFile(lockFile) ? [lockFile] : [] };
}

const warnedUnpinned = new Set<string>();

/** Writes what a run resolved into the directory's tsexec.lock, saying so; where it cannot be written, each specifier warns once. */
function recordResolved(
  dir: string,
  resolved: Readonly<Record<string, string>>,
  wanted: readonly NpmSpecifier[],
  specifiers: Readonly<Record<string, string>>,
  packages: Readonly<Record<string, NpmLockPackage>>,
  ctx: PrimitiveContext,
): void {
  // A fetched checkout is content-addressed: never written into, even where the file system would let us.
  const written = isInside(dir, realCacheDir(ctx.cacheDir)) ? "read-only" : updateLock(dir, (current) => withNpmEntries(current, resolved, packages), ctx.log);
  if (written === "written") ctx.log(`locked ${wanted.map((s) => `npm:${s.key} at ${specifiers[s.key]}`).join(", ")}: wrote ${lockPath(dir)}`);
  if (written !== "read-only") return;
  // Each import of the module resolves its unpinned specifiers again (nothing was written): each warns once.
  for (const s of wanted) {
    if (warnedUnpinned.has(`${dir}\0${s.key}`)) continue;
    warnedUnpinned.add(`${dir}\0${s.key}`);
    ctx.log(`warning: npm:${s.key} is not pinned (${dir} is read-only, so no tsexec.lock records it): it resolved to ${specifiers[s.key]}; to run exactly this, import npm:${specifiers[s.key]}`);
  }
}

/** --offline and an unpinned specifier npm's cache cannot resolve: one sentence saying which, and why. */
function offlineRefusal(spec: NpmSpecifier, importer: string, lockFile: string, error: TsexecError): TsexecError {
  const reason = error.message
    .replace(/^.*?: (?=no version of )/, "")
    .replace(/^.*?: --offline, and npm's cache holds no metadata for it from (\S+): .*$/, `npm's cache holds no metadata for ${spec.name} from $1`);
  return new TsexecError(
    `npm:${spec.key} (imported from ${importer}) is not pinned in ${lockFile}, and --offline lets only npm's cache resolve it: ${reason}; run once online to pin it`,
  );
}

/**
 * `lock` (as it is now, perhaps written meanwhile by another tsexec) with the
 * specifiers this run resolved and the packages they need added; every other
 * entry and section kept.
 */
function withNpmEntries(lock: LockFile | undefined, resolved: Readonly<Record<string, string>>, packages: Readonly<Record<string, NpmLockPackage>>): LockFile {
  const npm = lock?.npm;
  return {
    ...(lock ?? { version: lockVersion }),
    npm: { specifiers: { ...npm?.specifiers, ...resolved }, packages: { ...npm?.packages, ...packages } },
  };
}

const isInside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The `npm:` specifiers a module's source names (a cheap scan; what does not parse is left to the import itself). */
function specifiersIn(file: string): NpmSpecifier[] {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const found = new Map<string, NpmSpecifier>();
  for (const m of source.matchAll(/["']npm:([^"'\s]+)["']/g)) {
    try {
      const spec = parseNpmSpecifier(m[1]!);
      found.set(spec.key, spec);
    } catch {
      // Not a specifier (text in a string): ignored here.
    }
  }
  return [...found.values()];
}

/** Keys reachable from `roots` that the lock does not hold. */
function missingFrom(packages: Record<string, NpmLockPackage>, roots: readonly string[]): string[] {
  const missing: string[] = [];
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const entry = packages[key];
    if (entry === undefined) return void missing.push(key);
    for (const dep of Object.values(entry.dependencies)) visit(dep);
    for (const dep of Object.values(entry.optionalDependencies ?? {})) visit(dep);
  };
  roots.forEach(visit);
  return missing;
}

const storeDirName = (key: string) => key.replace("/", "+");
/** Where a package of a lock-made tree lives: its own node_modules, beside links to its dependencies (pnpm's layout). */
const virtualPath = (key: string, name: string) => `node_modules/.tsexec/${storeDirName(key)}/node_modules/${name}`;

/**
 * The tree for a tsexec.lock's packages (or a package.json's resolved ranges):
 * each package in `node_modules/.tsexec/<key>/node_modules/<name>`, its
 * dependencies linked beside it; `topLevel` names get `node_modules/<name>` links.
 */
function planFromLock(
  source: string,
  roots: readonly string[],
  packages: Record<string, NpmLockPackage>,
  allow: ReadonlySet<string>,
  topLevel: Record<string, string> = {},
): TreePlan {
  const placements: { path: string; pkg: PackageSpec }[] = [];
  const links: { path: string; target: string }[] = [];
  const seen = new Set<string>();
  const visit = (key: string): boolean => {
    const entry = packages[key];
    if (entry === undefined) return false;
    if (seen.has(key)) return true;
    seen.add(key);
    const { name, range: version } = splitAlias(key);
    const own = virtualPath(key, name);
    placements.push({ path: own, pkg: { name, version: version!, integrity: entry.integrity, hasInstallScript: entry.hasInstallScript === true } });
    const link = (alias: string, depKey: string) => {
      checkPackageName(alias, `${source}: "npm"."packages"."${key}"."dependencies"`);
      const path = `node_modules/.tsexec/${storeDirName(key)}/node_modules/${alias}`;
      if (path === own) return;
      links.push({ path, target: relative(dirname(path), virtualPath(depKey, splitAlias(depKey).name)) });
    };
    for (const [alias, depKey] of Object.entries(entry.dependencies)) if (visit(depKey)) link(alias, depKey);
    for (const [alias, depKey] of Object.entries(entry.optionalDependencies ?? {})) {
      const dep = packages[depKey];
      if (dep && fitsThisPlatform(dep) && visit(depKey)) link(alias, depKey);
    }
    return true;
  };
  roots.forEach(visit);
  for (const [alias, key] of Object.entries(topLevel)) {
    if (visit(key)) links.push({ path: `node_modules/${alias}`, target: relative("node_modules", virtualPath(key, splitAlias(key).name)) });
  }
  return { placements, links, allowScripts: allow, manifest: anonymousManifest };
}

// ---- the project form ----

/** The nearest directory with a package.json at or above `dir`, not above the cache (a checkout's root bounds it). */
export function projectDirOf(dir: string, cacheDir: string): string | undefined {
  const bound = realCacheDir(cacheDir);
  for (let at = dir; ; at = dirname(at)) {
    if (isFile(join(at, "package.json"))) return at;
    if (at === bound || dirname(at) === at) return undefined;
  }
}

/** The cache directory as module paths spell it (they are real paths). */
export function realCacheDir(cacheDir: string): string {
  try {
    return realpathSync(cacheDir);
  } catch {
    return cacheDir;
  }
}

const projectTrees = new Map<string, Promise<string>>();
const warned = new Set<string>();

/**
 * The installed copy of package `name` for a script in a project (a
 * package.json above it). Undefined when there is no project.
 */
export async function locateProjectPackage(name: string, importer: string, ctx: PrimitiveContext): Promise<(PackageLocation & { lockFile: string | undefined; projectDir: string }) | undefined> {
  const projectDir = projectDirOf(dirname(importer), ctx.cacheDir);
  if (projectDir === undefined) return undefined;
  const lockFile = [join(projectDir, "npm-shrinkwrap.json"), join(projectDir, "package-lock.json")].find(isFile);
  const manifest = join(projectDir, "package.json");
  const dependsOn = [lockFile ?? manifest, projectDir];
  // A package.json that declares no dependencies (`"type": "module"` only, say) has nothing to install or warn about.
  if (lockFile === undefined && !declaresDependencies(manifest)) return { packageDir: undefined, dependsOn, lockFile, projectDir };
  let tree = projectTrees.get(projectDir);
  if (tree === undefined) {
    tree = lockFile !== undefined ? installLocked(projectDir, lockFile, ctx) : installUnlocked(projectDir, manifest, ctx);
    projectTrees.set(projectDir, tree);
  }
  const treeDir = await tree;
  const packageDir = join(treeDir, "node_modules", name);
  return {
    packageDir: statSync(packageDir, { throwIfNoEntry: false }) ? packageDir : undefined,
    // The project directory too: a node_modules made there later must be used instead.
    dependsOn,
    lockFile,
    projectDir,
  };
}

/**
 * Packages tsexec brings along: a project's dependency on them is never
 * installed (the name tsexec on the registry belongs to an unrelated package;
 * scripts get the running tsexec and its fp-ts wherever they live).
 */
export const tsexecOwnPackages: ReadonlySet<string> = new Set(["tsexec", "fp-ts"]);

const installable = (deps: object | undefined) => Object.keys(deps ?? {}).filter((name) => !tsexecOwnPackages.has(name));

function declaresDependencies(manifest: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { dependencies?: object; optionalDependencies?: object };
    return installable(pkg.dependencies).length + installable(pkg.optionalDependencies).length > 0;
  } catch {
    return true; // unreadable: installUnlocked says what is wrong with it
  }
}

function installLocked(projectDir: string, lockFile: string, ctx: PrimitiveContext): Promise<string> {
  const config = loadNpmConfig(projectDir);
  const registry = config.registryFor("x");
  // npm's replace-registry-host: a lock written against the public registry installs from the configured one.
  const replace = (url: string) => (url.startsWith(defaultRegistry) ? registry + url.slice(defaultRegistry.length) : url);
  const plan = planFromPackageLock(lockFile, allowScripts(ctx, projectDir), replace);
  return install(plan, config, ctx);
}

async function installUnlocked(projectDir: string, manifest: string, ctx: PrimitiveContext): Promise<string> {
  if (ctx.options["pinned-only"] === true) {
    throw new TsexecError(`refusing ${manifest}: its dependencies are not pinned (no package-lock.json beside it) and --pinned-only (TSEXEC_PINNED_ONLY) is set: run npm install --package-lock-only there and commit the lock`);
  }
  let pkg: { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
  try {
    pkg = JSON.parse(readFileSync(manifest, "utf8")) as typeof pkg;
  } catch {
    throw new TsexecError(`${manifest} is not valid JSON: fix it`);
  }
  if (!warned.has(manifest)) {
    warned.add(manifest);
    ctx.log(`warning: the dependencies of ${manifest} are not pinned (no package-lock.json): they resolve to the newest matching versions; run npm install --package-lock-only there to pin them`);
  }
  const config = loadNpmConfig(projectDir);
  if (ctx.options.offline === true) {
    throw new TsexecError(`${manifest} has no package-lock.json, and --offline forbids asking the registry ${config.registryFor("x")} for its ranges: add the lock (npm install --package-lock-only)`);
  }
  const packages: Record<string, NpmLockPackage> = {};
  const resolver = new RegistryResolver(config, packages);
  const topLevel: Record<string, string> = {};
  try {
    const wanted = { ...pkg.dependencies, ...pkg.optionalDependencies };
    for (const [name, range] of Object.entries(wanted)) {
      if (tsexecOwnPackages.has(name)) continue;
      try {
        topLevel[name] = await resolver.resolve(name, range, `${manifest}: dependency ${name}`);
      } catch (error) {
        if (!(pkg.optionalDependencies && name in pkg.optionalDependencies)) throw error;
      }
    }
  } finally {
    closeConnections();
  }
  return install(planFromLock(manifest, Object.values(topLevel), packages, allowScripts(ctx, projectDir), topLevel), config, ctx);
}
