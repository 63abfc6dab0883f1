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
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { readBoundedText } from "../../base/bounded-read.js";
import { TsexecError } from "../../base/errors.js";
import { makeDirectory, writeFileAtomic } from "../../base/files.js";
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
  const unlocked = (s: NpmSpecifier) => !Object.hasOwn(specifiers, s.key) || missingFrom(packages, [specifiers[s.key]!]).length > 0;
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
  // Pinned only once installed: what the registry said is checked by the install (names, versions,
  // integrity) and by the lock's own validation when written; a refused answer never reaches the lock.
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
    ctx.log(`warning: npm:${printable(s.key)} is not pinned (${printable(dir)} is read-only, so no tsexec.lock records it): it resolved to ${printable(specifiers[s.key]!)}; to run exactly this, import npm:${printable(specifiers[s.key]!)}`);
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
    source = readBoundedText(file, { boundary: "/" }) ?? "";
  } catch {
    return []; // the loader's own read of it says what is wrong
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
  // A stack of its own, not recursion: a crafted lock may chain packages 50,000 deep.
  const stack = [...roots].reverse();
  while (stack.length > 0) {
    const key = stack.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = Object.hasOwn(packages, key) ? packages[key] : undefined;
    if (entry === undefined) {
      missing.push(key);
      continue;
    }
    const deps = [...Object.values(entry.dependencies), ...Object.values(entry.optionalDependencies ?? {})];
    for (let i = deps.length - 1; i >= 0; i--) stack.push(deps[i]!);
  }
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
  const entryOf = (key: string) => (Object.hasOwn(packages, key) ? packages[key] : undefined);
  // Each package placed once, its dependencies linked beside it. A stack of its own, not
  // recursion: a crafted lock may chain packages 50,000 deep. (The tree's key sorts both lists.)
  const visitAll = (roots: readonly string[]) => {
    const stack = [...roots].reverse();
    while (stack.length > 0) {
      const key = stack.pop()!;
      const entry = entryOf(key);
      if (entry === undefined || seen.has(key)) continue;
      seen.add(key);
      const { name, range: version } = splitAlias(key);
      const own = virtualPath(key, name);
      placements.push({ path: own, pkg: { name, version: version!, integrity: entry.integrity, hasInstallScript: entry.hasInstallScript === true } });
      const deps = Object.entries(entry.dependencies).filter(([, depKey]) => entryOf(depKey) !== undefined);
      for (const [alias, depKey] of Object.entries(entry.optionalDependencies ?? {})) {
        const dep = entryOf(depKey);
        if (dep !== undefined && fitsThisPlatform(dep)) deps.push([alias, depKey]);
      }
      for (const [alias, depKey] of deps) {
        checkPackageName(alias, `${source}: "npm"."packages"."${key}"."dependencies"`);
        const path = `node_modules/.tsexec/${storeDirName(key)}/node_modules/${alias}`;
        if (path !== own) links.push({ path, target: relative(dirname(path), virtualPath(depKey, splitAlias(depKey).name)) });
      }
      for (let i = deps.length - 1; i >= 0; i--) stack.push(deps[i]![1]);
    }
  };
  visitAll(roots);
  for (const [alias, key] of Object.entries(topLevel)) {
    visitAll([key]);
    if (entryOf(key) !== undefined) links.push({ path: `node_modules/${alias}`, target: relative("node_modules", virtualPath(key, splitAlias(key).name)) });
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
  // package.json too when there is a lock: its "tsexec": { "allowScripts" } decides which tree is built.
  const dependsOn = lockFile === undefined ? [manifest, projectDir] : [lockFile, manifest, projectDir];
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
    const pkg = JSON.parse(readBoundedText(manifest) ?? "") as { dependencies?: object; optionalDependencies?: object };
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
  const text = readBoundedText(manifest); // a FIFO or /dev/zero named package.json: one error naming it
  try {
    pkg = JSON.parse(text ?? "") as typeof pkg;
  } catch {
    throw new TsexecError(`${printable(manifest)} is not valid JSON: fix it`);
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

// ---- apps: a package's own tree, and published packages run by name ----

/**
 * The installed tree of the project in `projectDir` (its lock's tree, or its
 * ranges after a warning), for running the project's bins as programs;
 * undefined when it declares no dependencies and has no lock.
 */
export async function installProjectTree(projectDir: string, ctx: PrimitiveContext): Promise<string | undefined> {
  const lockFile = [join(projectDir, "npm-shrinkwrap.json"), join(projectDir, "package-lock.json")].find(isFile);
  const manifest = join(projectDir, "package.json");
  if (lockFile === undefined && !declaresDependencies(manifest)) return undefined;
  return lockFile !== undefined ? installLocked(projectDir, lockFile, ctx) : installUnlocked(projectDir, manifest, ctx);
}

/** How long a range's resolution (`npm:x@^1`, `npm:x`) is trusted before the registry is asked again; an exact version's, for ever. */
const rangeTtlMs = 60 * 60 * 1000;

interface ResolvedPackage {
  readonly key: string;
  readonly packages: Record<string, NpmLockPackage>;
  readonly resolvedAt: number;
}

/**
 * The installed directory of a published package (`tsexec npm:name@range`):
 * the range resolved against the registry (or taken from the store's memo of
 * an earlier resolution: an exact version's for ever, a range's for an hour,
 * any under --offline), its tree installed and verified like a lock's.
 */
export async function installPublishedPackage(name: string, range: string | undefined, ctx: PrimitiveContext): Promise<{ packageDir: string; key: string }> {
  const what = `npm:${name}${range === undefined ? "" : `@${range}`}`;
  checkPackageName(name, what);
  const exact = range !== undefined && /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(range);
  if (!exact && ctx.options["pinned-only"] === true) {
    throw new TsexecError(`refusing ${printable(what)} (--pinned-only or TSEXEC_PINNED_ONLY): name an exact version, as in npm:${name}@1.2.3`);
  }
  const config = loadNpmConfig(undefined);
  const memoFile = join(ctx.cacheDir, "npm", "resolved", `${createHash("sha256").update(`${config.registryFor(name)}\0${name}\0${range ?? ""}`).digest("hex").slice(0, 32)}.json`);
  const offline = ctx.options.offline === true;
  let resolved = readResolved(memoFile);
  const fresh = resolved !== undefined && (exact || offline || (ctx.options.refresh !== true && Date.now() - resolved.resolvedAt < rangeTtlMs));
  if (!fresh) {
    const packages: Record<string, NpmLockPackage> = {};
    const resolver = new RegistryResolver(config, packages, offline);
    try {
      const key = await resolver.resolve(name, range, what);
      resolved = { key, packages, resolvedAt: Date.now() };
    } catch (error) {
      if (!(offline && resolved === undefined && error instanceof TsexecError)) throw error;
      throw new TsexecError(`${printable(what)} was never run, and ${error.message}`);
    } finally {
      closeConnections();
    }
    makeDirectory(dirname(memoFile));
    writeFileAtomic(memoFile, `${JSON.stringify(resolved)}\n`);
  }
  const { key, packages } = resolved!;
  const plan = planFromLock(what, [key], packages, allowScripts(ctx));
  const tree = await install(plan, config, ctx);
  return { packageDir: join(tree, virtualPath(key, splitAlias(key).name)), key };
}

/** A memo of an earlier resolution, or undefined when there is none or it is not what tsexec wrote (it is then resolved again). */
function readResolved(file: string): ResolvedPackage | undefined {
  try {
    if (statSync(file).size > 16 * 1024 * 1024) return undefined;
    const value = JSON.parse(readFileSync(file, "utf8")) as ResolvedPackage;
    const ok = typeof value?.key === "string" && typeof value.resolvedAt === "number" && typeof value.packages === "object" && value.packages !== null;
    return ok && Object.values(value.packages).every((p) => typeof p?.integrity === "string" && typeof p.dependencies === "object" && p.dependencies !== null) ? value : undefined;
  } catch {
    return undefined;
  }
}
