/**
 * Resolving ranges against a registry: each `name@range` to an exact version
 * with its integrity, dependencies included, into the shape of tsexec.lock's
 * `npm.packages`. Used on the first run of an `npm:` specifier and for a
 * package.json without a lock. A package already resolved that satisfies a
 * range is reused, so a directory's lock stays small.
 */
import type { NpmLockPackage } from "../../base/lockfile.js";
import { TsexecError } from "../../base/errors.js";
import type { NpmConfig } from "./config.js";
import { get, packumentFromNpmCache } from "./fetch.js";
import { maxSatisfying, parseRange, parseVersion, satisfies } from "./semver.js";
import { checkPackageName } from "./store.js";
import { printable } from "./tar.js";

interface PackumentVersion {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  hasInstallScript?: boolean;
  scripts?: Record<string, string>;
  dist?: { integrity?: string; shasum?: string; tarball?: string };
}

interface Packument {
  "dist-tags"?: Record<string, string>;
  versions?: Record<string, PackumentVersion>;
}

type MutablePackages = Record<string, NpmLockPackage>;

export class RegistryResolver {
  private readonly packuments = new Map<string, Promise<Packument>>();

  constructor(
    private readonly config: NpmConfig,
    /** The lock's packages, added to as ranges resolve. */
    readonly packages: MutablePackages,
    /** Packuments from npm's cache only (--offline). */
    private readonly offline = false,
  ) {}

  private packument(name: string): Promise<Packument> {
    let known = this.packuments.get(name);
    if (known === undefined) {
      const registry = this.config.registryFor(name);
      const url = `${registry}${name.replace("/", "%2f")}`;
      // Offline: whatever npm's cache holds; online: what it holds still fresh (as npm answers
      // from it without a request), else a request on the shared keep-alive connections.
      const cached = packumentFromNpmCache(this.config.cacache, url, !this.offline);
      if (this.offline && cached === undefined) {
        return Promise.reject(new TsexecError(`${name}: --offline, and npm's cache holds no metadata for it from ${registry}: run once online (or npm view ${name}) to resolve it`));
      }
      const body = cached ? Promise.resolve(cached) : get(url, this.config, name, registry, "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*");
      known = body.then((body) => {
        try {
          return JSON.parse(body.toString("utf8")) as Packument;
        } catch {
          throw new TsexecError(`${name}: the registry ${registry} answered with something that is not JSON`);
        }
      });
      this.packuments.set(name, known);
    }
    return known;
  }

  /** Resolves `name@range` (an npm alias `npm:other@range` too) to its `name@version` key, dependencies included. */
  async resolve(name: string, range: string | undefined, from: string): Promise<string> {
    const alias = range !== undefined && range.startsWith("npm:") ? splitAlias(range.slice(4)) : undefined;
    if (alias) return this.resolve(alias.name, alias.range, from);
    checkPackageName(name, from);
    const wanted = range === undefined || range === "" ? "latest" : range;
    if (/^(git\+|git:|github:|file:|link:|https?:)|^[^@/]+\/[^@/]+$/.test(wanted)) {
      throw new TsexecError(`${from}: the dependency ${name}@${printable(wanted)} is not from a registry: tsexec installs registry packages only`);
    }
    const parsed = parseRange(wanted);
    if (parsed) {
      // Reuse a version already in the lock.
      for (const key of Object.keys(this.packages)) {
        const at = key.lastIndexOf("@");
        if (key.slice(0, at) !== name) continue;
        const version = parseVersion(key.slice(at + 1));
        if (version && satisfies(version, parsed)) return key;
      }
    }
    const packument = await this.packument(name);
    const versions = packument.versions ?? {};
    const tags = packument["dist-tags"] ?? {};
    // The packument is the registry's word: own keys only (a tag named `constructor` is not Object's).
    const own = <T>(record: Record<string, T>, key: string | undefined): T | undefined => (key !== undefined && Object.hasOwn(record, key) ? record[key] : undefined);
    let version: string | undefined;
    if (parsed === undefined) version = own(tags, wanted);
    else {
      const latest = own(tags, "latest");
      const latestParsed = typeof latest === "string" ? parseVersion(latest) : undefined;
      version = latestParsed && satisfies(latestParsed, parsed) && own(versions, latest) ? latest : maxSatisfying(Object.keys(versions), parsed);
    }
    if (typeof version !== "string" || own(versions, version) === undefined) {
      throw new TsexecError(`${from}: no version of ${name} matches '${printable(wanted)}' at the registry ${this.config.registryFor(name)}`);
    }
    // A version becomes a lock key and a store directory name: exactly a semantic version, nothing else.
    if (!/^[0-9A-Za-z.+-]+$/.test(version) || parseVersion(version) === undefined) {
      throw new TsexecError(`${from}: the registry ${this.config.registryFor(name)} gives '${printable(version)}' as the version of ${name}@${printable(wanted)}, which is not a version: refusing it (nothing was pinned)`);
    }
    const key = `${name}@${version}`;
    if (Object.hasOwn(this.packages, key)) return key;
    const manifest = own(versions, version)!;
    const integrity = manifest.dist?.integrity ?? (manifest.dist?.shasum ? `sha1-${Buffer.from(manifest.dist.shasum, "hex").toString("base64")}` : undefined);
    if (integrity === undefined) throw new TsexecError(`${key}: the registry ${this.config.registryFor(name)} gives no integrity for it; tsexec installs only what it can verify`);
    const entry: { -readonly [K in keyof NpmLockPackage]: NpmLockPackage[K] } = { integrity, dependencies: {} };
    if (manifest.os?.length) entry.os = manifest.os;
    if (manifest.cpu?.length) entry.cpu = manifest.cpu;
    if (manifest.libc?.length) entry.libc = manifest.libc;
    const scripts = manifest.scripts ?? {};
    if (manifest.hasInstallScript === true || ["preinstall", "install", "postinstall"].some((s) => typeof scripts[s] === "string")) entry.hasInstallScript = true;
    this.packages[key] = entry; // before the dependencies: cycles find it
    const optional = manifest.optionalDependencies ?? {};
    // Peers are installed as npm 7+ does (unless optional); a version already in the lock that fits is shared.
    const meta = manifest.peerDependenciesMeta ?? {};
    const peers = Object.entries(manifest.peerDependencies ?? {}).filter(([dep]) => !Object.hasOwn(meta, dep) || meta[dep]?.optional !== true);
    const dependencies = [...peers, ...Object.entries(manifest.dependencies ?? {})].filter(([dep]) => !Object.hasOwn(optional, dep));
    const resolved = await Promise.all(dependencies.map(async ([dep, depRange]) => [dep, await this.resolve(dep, depRange, key)] as const));
    entry.dependencies = Object.fromEntries(resolved);
    const optionals = await Promise.all(
      Object.entries(optional).map(async ([dep, depRange]) => {
        try {
          return [dep, await this.resolve(dep, depRange, key)] as const;
        } catch {
          return undefined; // an optional dependency that cannot be resolved is left out, as npm does
        }
      }),
    );
    const present = optionals.filter((o): o is readonly [string, string] => o !== undefined);
    if (present.length) entry.optionalDependencies = Object.fromEntries(present);
    return key;
  }
}

/** `name@range` (scoped names too) of an alias or specifier; range undefined when absent. */
export function splitAlias(text: string): { name: string; range: string | undefined } {
  const at = text.indexOf("@", text.startsWith("@") ? 1 : 0);
  return at < 0 ? { name: text, range: undefined } : { name: text.slice(0, at), range: text.slice(at + 1) };
}
