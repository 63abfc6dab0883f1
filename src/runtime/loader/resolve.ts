/**
 * Module resolution for transpiled scripts. A script's transpiled output
 * lives in the cache, not beside the script, so its import specifiers are
 * resolved here, from the script's own directory, and rewritten to absolute
 * URLs. Bare specifiers follow Node's ESM rules (node_modules lookup, package
 * "exports" with the node/import/default conditions, then "main").
 *
 * `npm:` specifiers, and bare packages that no node_modules provides, are
 * installed into the package store (src/runtime/npm, loaded only then)
 * and resolve to files there; fp-ts and tsexec fall back to tsexec's own copy.
 */
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { createRequire, isBuiltin } from "node:module";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import { ambientContext } from "../../base/context.js";
import { escapeFromCheckout } from "../../base/checkout-path.js";
import { TsexecError } from "../../base/errors.js";
import { printable } from "../../base/printable.js";
import { packageRoot } from "../../base/package.js";
import { isFile } from "./directory-entry.js";
import { readSourceText } from "../../base/bounded-read.js";

export { directoryEntry } from "./directory-entry.js";

/** Extensions tsexec transpiles. */
export const typeScriptExtensions = [".ts", ".mts", ".cts", ".tsx"];

/** How an import specifier resolved. */
export type Resolution =
  | { kind: "builtin"; specifier: string }
  | { kind: "typescript"; file: string }
  | { kind: "javascript"; file: string };

const conditions = ["node", "import", "module-sync", "default"];

export function isTypeScript(file: string): boolean {
  return typeScriptExtensions.some((ext) => file.endsWith(ext));
}

export function resolveSpecifier(specifier: string, importer: string): Resolution {
  if (specifier.startsWith("node:") || isBuiltin(specifier)) return { kind: "builtin", specifier };
  if (specifier.startsWith("file:")) return classify(new URL(specifier).pathname, specifier, importer);
  if (specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/") || specifier === "." || specifier === "..") {
    return classify(resolvePath(dirname(importer), specifier), specifier, importer);
  }
  return { kind: "javascript", file: resolveBare(specifier, importer) };
}

/** A relative or absolute path: the file itself, a `.ts` behind a `.js` name, an extensionless name, or a directory. */
function classify(path: string, specifier: string, importer: string): Resolution {
  const candidates = [path];
  const jsToTs = /\.(m|c)?js$/.exec(path);
  if (jsToTs) candidates.push(path.slice(0, -jsToTs[0].length) + `.${jsToTs[1] ?? ""}ts`);
  for (const ext of [".ts", ".mts", ".tsx", ".js", ".mjs", ".cjs", ".json"]) candidates.push(path + ext);
  for (const file of candidates) {
    if (isFile(file)) return confined(isTypeScript(file) ? { kind: "typescript", file } : { kind: "javascript", file }, specifier, importer);
  }
  for (const name of ["default.ts", "index.ts", "index.js", "index.mjs"]) {
    const file = join(path, name);
    if (isFile(file)) return confined(isTypeScript(file) ? { kind: "typescript", file } : { kind: "javascript", file }, specifier, importer);
  }
  throw new TsexecError(`cannot find module '${specifier}' imported from ${importSite(specifier, importer)}${suggestion(specifier, path)}`);
}

/**
 * A module of a fetched checkout imports only from inside it, as lib.import, `#path` and
 * `?dir=` allow: a symbolic link the repository committed (`./out` → `/home/you`) must
 * not make tsexec run a file outside the checkout.
 */
function confined(resolution: Resolution & { file: string }, specifier: string, importer: string): Resolution {
  const escape = escapeFromCheckout(importer, resolution.file);
  if (escape === undefined) return resolution;
  throw new TsexecError(
    `cannot import '${printable(specifier)}' from ${printable(importSite(specifier, importer))}: it leads out of the fetched checkout ${printable(escape.checkout)} (a symbolic link to ${printable(escape.real)}); refusing to load it`,
  );
}

/** `importer:line:col` of the first place the source names `specifier` (the error path reads the file again). */
function importSite(specifier: string, importer: string): string {
  let source: string;
  try {
    source = readSourceText(importer);
  } catch {
    return importer;
  }
  const at = ['"', "'", "`"].map((q) => source.indexOf(q + specifier + q)).filter((i) => i >= 0).sort((a, b) => a - b)[0];
  if (at === undefined) return importer;
  const before = source.slice(0, at).split("\n");
  return `${importer}:${before.length}:${before[before.length - 1]!.length + 1}`;
}

/** `: did you mean './util.ts'?`, from the entries of the directory the specifier points into (closest name by edit distance). */
function suggestion(specifier: string, path: string): string {
  const wanted = basename(path);
  let entries: string[];
  try {
    entries = readdirSync(dirname(path)).filter((name) => !name.startsWith("."));
  } catch {
    return `: no such directory ${dirname(path)}`;
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of entries) {
    const distance = Math.min(editDistance(wanted, name), editDistance(stripExtension(wanted), stripExtension(name)) + 1);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  if (best === undefined || bestDistance > Math.max(2, Math.floor(wanted.length / 3))) return ": no such file (check the path)";
  return `: no such file; did you mean '${specifier.slice(0, specifier.length - basename(specifier).length)}${best}'?`;
}

function stripExtension(name: string): string {
  return name.replace(/\.[^.]*$/, "");
}

/** Levenshtein distance (names are short: the quadratic table is fine). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** `name` and `./subpath` of a bare specifier (`@scope/pkg/sub` → `@scope/pkg`, `./sub`). */
function splitBare(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split("/");
  const nameParts = specifier.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, nameParts).join("/");
  const rest = parts.slice(nameParts).join("/");
  return { name, subpath: rest ? `./${rest}` : "." };
}

export function resolveBare(specifier: string, importer: string): string {
  const { name, subpath } = splitBare(specifier);
  // Scripts may import tsexec itself wherever they live: it is the running copy.
  if (name === "tsexec") return resolvePackage(packageRoot, subpath, specifier, importer);
  const local = nodeModulesPackage(name, importer);
  if (local !== undefined) {
    const file = resolvePackage(local, subpath, specifier, importer);
    confined({ kind: "javascript", file }, specifier, importer);
    return file;
  }
  throw new TsexecError(
    `cannot find package '${name}' imported from ${importer}: install it next to the script (npm install ${name})`,
  );
}

/** `<dir>/node_modules/<name>` in the nearest directory above `importer` that has one. */
function nodeModulesPackage(name: string, importer: string): string | undefined {
  for (let dir = dirname(importer); ; dir = dirname(dir)) {
    const pkgDir = join(dir, "node_modules", name);
    if (existsSync(pkgDir)) return pkgDir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Packages tsexec brings along: scripts that import them without a node_modules of their own get tsexec's copy. */
const ownPackages = new Set(["fp-ts"]);

/**
 * `resolveSpecifier`, plus what may need an install (the cold path only):
 * `npm:` specifiers and bare packages from a project's lock.
 * `dependsOn` is told the files (locks) the answer depends on.
 */
export async function resolveImport(specifier: string, importer: string, dependsOn: (file: string) => void): Promise<Resolution> {
  const isBare = !/^(node:|file:|\.{1,2}(\/|$)|\/)/.test(specifier) && !isBuiltin(specifier);
  if (!specifier.startsWith("npm:") && !isBare) return resolveSpecifier(specifier, importer);
  if (isBare) {
    // tsexec itself and installed packages: resolved as Node would, without loading the package store.
    const { name } = splitBare(specifier);
    if (name === "tsexec" || nodeModulesPackage(name, importer) !== undefined) return resolveSpecifier(specifier, importer);
    // fp-ts is tsexec's own: never installed from a project's dependencies (and the store is not even loaded).
    if (ownPackages.has(name)) {
      const own = dirname(createRequire(join(packageRoot, "package.json")).resolve(`${name}/package.json`));
      return { kind: "javascript", file: resolvePackage(own, splitBare(specifier).subpath, specifier, importer) };
    }
  }
  const ctx = ambientContext();
  const packages = await import("../npm/index.js");
  if (specifier.startsWith("npm:")) {
    const found = await packages.locateNpmSpecifier(specifier.slice(4), importer, ctx);
    found.dependsOn.forEach(dependsOn);
    return { kind: "javascript", file: resolvePackage(found.packageDir!, found.subpath, specifier, importer) };
  }
  const { name, subpath } = splitBare(specifier);
  const project = await packages.locateProjectPackage(name, importer, ctx);
  if (project !== undefined) project.dependsOn.forEach(dependsOn);
  if (project?.packageDir !== undefined) return { kind: "javascript", file: resolvePackage(project.packageDir, subpath, specifier, importer) };
  const inCheckout = importer.startsWith(packages.realCacheDir(ctx.cacheDir) + "/");
  const lockAdvice =
    project?.lockFile !== undefined
      ? `it is not in ${project.lockFile}: add it to ${project.projectDir}/package.json (npm install ${name}) and commit the lock`
      : inCheckout
        ? `the repository has no package.json with a package-lock.json that lists it; import it as "npm:${name}@<range>" in the script`
        : `install it next to the script (npm install ${name}), or import it as "npm:${name}@<range>" (pinned in a tsexec.lock beside the script)`;
  throw new TsexecError(`cannot find package '${name}' imported from ${importer}: ${lockAdvice}`);
}

function resolvePackage(pkgDir: string, subpath: string, specifier: string, importer: string): string {
  const manifest = join(pkgDir, "package.json");
  const pkg = isFile(manifest) ? (JSON.parse(readSourceText(manifest)) as Record<string, unknown>) : {};
  let target: string | undefined;
  if (pkg.exports !== undefined && pkg.exports !== null) {
    target = exportsTarget(pkg.exports, subpath);
    if (target === undefined) {
      throw new TsexecError(`package '${pkgDir}' does not export '${subpath}' (imported as '${specifier}' from ${importer})`);
    }
    target = join(pkgDir, target);
  } else {
    const base = subpath === "." ? join(pkgDir, typeof pkg.main === "string" ? pkg.main : "index.js") : join(pkgDir, subpath);
    target = legacyFile(base);
  }
  if (target === undefined || !isFile(target)) {
    throw new TsexecError(`cannot find module '${specifier}' imported from ${importer} (looked in ${pkgDir})`);
  }
  return realpathSync(target);
}

/**
 * A path in a package without "exports", as `require` finds it: the file, with
 * `.js`/`.json` added, or a directory's own package.json "main" (fp-ts's
 * `fp-ts/function`, which bundlers and TypeScript accept and Node's ESM
 * resolver does not), or its index.js.
 */
function legacyFile(base: string): string | undefined {
  const file = [base, `${base}.js`, `${base}.json`].find(isFile);
  if (file !== undefined) return file;
  const manifest = join(base, "package.json");
  if (isFile(manifest)) {
    const main = (JSON.parse(readSourceText(manifest)) as { main?: unknown }).main;
    if (typeof main === "string") {
      const entry = [join(base, main), join(base, `${main}.js`), join(base, main, "index.js")].find(isFile);
      if (entry !== undefined) return entry;
    }
  }
  const index = join(base, "index.js");
  return isFile(index) ? index : undefined;
}

/** Node's PACKAGE_EXPORTS_RESOLVE, for the conditions tsexec imports with. */
function exportsTarget(exports: unknown, subpath: string): string | undefined {
  const map =
    typeof exports === "string" || Array.isArray(exports) || !Object.keys(exports as object).some((k) => k.startsWith("."))
      ? { ".": exports }
      : (exports as Record<string, unknown>);
  if (Object.hasOwn(map, subpath) && !subpath.includes("*")) return conditionalTarget(map[subpath], undefined);
  // Patterns: the longest key whose prefix matches wins.
  let best: string | undefined;
  for (const key of Object.keys(map)) {
    const star = key.indexOf("*");
    if (star < 0) continue;
    const prefix = key.slice(0, star);
    const suffix = key.slice(star + 1);
    if (subpath.startsWith(prefix) && subpath.endsWith(suffix) && subpath.length >= key.length - 1) {
      if (best === undefined || prefix.length > best.indexOf("*")) best = key;
    }
  }
  if (best === undefined) return undefined;
  const star = best.indexOf("*");
  const match = subpath.slice(star, subpath.length - (best.length - star - 1));
  return conditionalTarget(map[best], match);
}

function conditionalTarget(target: unknown, match: string | undefined): string | undefined {
  if (typeof target === "string") return match === undefined ? target : target.replaceAll("*", match);
  if (Array.isArray(target)) {
    for (const t of target) {
      const found = conditionalTarget(t, match);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (target && typeof target === "object") {
    for (const [key, value] of Object.entries(target)) {
      if (!conditions.includes(key)) continue;
      const found = conditionalTarget(value, match);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
