/**
 * The project form: a package.json with a package-lock.json (v2/v3) or
 * npm-shrinkwrap.json beside it. The tree installed is exactly the lock's
 * `packages`, without devDependencies and without optional packages made
 * for other platforms, in the lock's own layout (its `node_modules/…` paths).
 */
import { dirname, join } from "node:path";
import { readBoundedText } from "../../base/bounded-read.js";
import { TsexecError } from "../../base/errors.js";
import { fitsThisPlatform } from "./platform.js";
import { anonymousManifest, checkPackageName, type PackageSpec, type TreePlan } from "./store.js";
import { printable } from "./tar.js";

interface LockEntry {
  name?: unknown;
  version?: unknown;
  resolved?: unknown;
  integrity?: unknown;
  dev?: unknown;
  optional?: unknown;
  devOptional?: unknown;
  inBundle?: unknown;
  link?: unknown;
  extraneous?: unknown;
  hasInstallScript?: unknown;
  os?: unknown;
  cpu?: unknown;
  libc?: unknown;
  dependencies?: unknown;
  optionalDependencies?: unknown;
  peerDependencies?: unknown;
  bundleDependencies?: unknown;
}

const strings = (value: unknown): string[] | undefined => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : undefined);

/** The names of the packages a project allows install scripts for: package.json's `"tsexec": { "allowScripts": [...] }`. */
export function allowedByPackageJson(projectDir: string): string[] {
  try {
    const pkg = JSON.parse(readBoundedText(join(projectDir, "package.json")) ?? "{}") as { tsexec?: { allowScripts?: unknown } };
    return strings(pkg.tsexec?.allowScripts) ?? [];
  } catch {
    return [];
  }
}

/** The tree a lock file describes (for this platform, production and optional packages). */
export function planFromPackageLock(lockFile: string, allowScripts: ReadonlySet<string>, replaceRegistry: (url: string) => string): TreePlan {
  let lock: { lockfileVersion?: unknown; packages?: unknown };
  // A FIFO, a device or a huge file named package-lock.json is refused, not read (a cloned project may hold one).
  const text = readBoundedText(lockFile, { fix: "replace it with the project's lock (npm install --package-lock-only), or remove it" });
  try {
    lock = JSON.parse(text ?? "") as typeof lock;
  } catch (error) {
    throw new TsexecError(`${lockFile}: cannot read the lock (${(error as NodeJS.ErrnoException).code ?? "not valid JSON"}): fix it, or run npm install to write it anew`);
  }
  if (typeof lock !== "object" || lock === null || typeof lock.packages !== "object" || lock.packages === null) {
    const version = typeof lock?.lockfileVersion === "number" ? ` (lockfileVersion ${lock.lockfileVersion})` : "";
    throw new TsexecError(`${lockFile}: the lock has no "packages" section${version}: tsexec reads lockfileVersion 2 and 3; run npm install --package-lock-only with npm 7 or later to upgrade it`);
  }
  const placements: { path: string; pkg: PackageSpec }[] = [];
  for (const [path, raw] of Object.entries(lock.packages as Record<string, LockEntry>)) {
    if (path === "") continue;
    const entry = (typeof raw === "object" && raw !== null ? raw : {}) as LockEntry;
    const where = `${lockFile}: "packages"."${printable(path)}"`;
    if (entry.dev === true || entry.inBundle === true || entry.extraneous === true) continue;
    // A project's own dependency on tsexec is the registry's unrelated package of that name: scripts get the running tsexec.
    if (path === "node_modules/tsexec") continue;
    if (!/^(node_modules\/(@[^/]+\/)?[^/@][^/]*\/)*node_modules\/(@[^/]+\/)?[^/@][^/]*$/.test(path) || path.split("/").some((p) => p === ".." || p === ".")) {
      if (entry.link === true || !path.includes("node_modules/")) continue; // a workspace package's own entry
      throw new TsexecError(`${where} is not a node_modules path tsexec can place`);
    }
    if (entry.link === true) {
      throw new TsexecError(`${where} links to a workspace package (${printable(String(entry.resolved))}): tsexec does not install npm workspaces yet; run npm ci instead`);
    }
    const optional = entry.optional === true || entry.devOptional === true;
    if (optional && !fitsThisPlatform({ os: strings(entry.os), cpu: strings(entry.cpu), libc: strings(entry.libc) })) continue;
    const name = typeof entry.name === "string" ? entry.name : path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    checkPackageName(name, where);
    if (typeof entry.version !== "string") throw new TsexecError(`${where} has no version: run npm install to repair the lock`);
    if (typeof entry.integrity !== "string") {
      throw new TsexecError(`${where} has no integrity: tsexec installs only packages it can verify; run npm install to record it (a package from git or a local path is not supported)`);
    }
    let resolved: string | undefined;
    if (typeof entry.resolved === "string") {
      if (!/^https?:\/\//.test(entry.resolved)) {
        throw new TsexecError(`${where} resolves to '${printable(entry.resolved)}': tsexec installs registry packages only; run npm ci for this project`);
      }
      resolved = replaceRegistry(entry.resolved);
    }
    placements.push({
      path,
      pkg: { name, version: entry.version, integrity: entry.integrity, resolved, hasInstallScript: entry.hasInstallScript === true },
    });
  }
  return { placements, links: [], allowScripts, manifest: projectManifest(lockFile) };
}

/** The project's package.json (beside its lock), which the tree carries as a local install has it above node_modules. */
function projectManifest(lockFile: string): string {
  try {
    return readBoundedText(join(dirname(lockFile), "package.json")) ?? anonymousManifest;
  } catch {
    return anonymousManifest; // npm-shrinkwrap.json alone
  }
}
