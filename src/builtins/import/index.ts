/**
 * `lib.import(path)`: loads a TypeScript or JavaScript module (a file, or a
 * directory's default.ts/index.ts) with the loader tsexec runs scripts with,
 * and yields its default export, or its namespace when it has none. The
 * nixops sketch's `import src lib`: a fetched tool's entry point is a
 * function of `lib`.
 *
 * `lib.import(inputs.tools, "lib.ts")` loads `lib.ts` from a declared input's
 * checkout (or any directory given as a string), confined to it: an absolute
 * path, `..` or a symlink leading out of it is refused.
 */
import { realpathSync } from "node:fs";
import { isAbsolute, normalize, resolve, sep } from "node:path";
import { asyncStep, primitive, type IO } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { defaultExport, importModule, locateScript } from "../../runtime/loader/index.js";
import { checkoutHolding } from "../fetchgit/cache.js";

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined; // missing: locateScript says so
  }
}

/**
 * A path inside a fetched checkout must lead to a file inside it once its
 * symbolic links are followed: the repository chose those links.
 */
function refuseEscapeFromCheckout(path: string, absolute: string, file: string): void {
  const checkout = checkoutHolding(absolute);
  if (checkout === undefined) return;
  const real = realpathSync(checkout);
  if (file !== real && !file.startsWith(`${real}${sep}`)) {
    throw new TsexecError(`lib.import: '${path}' leads out of the fetched checkout ${checkout} (a symbolic link to ${file}); refusing to load it`);
  }
}

/** A directory to import from: a path, or anything with one (an input). */
export type ImportBase = string | { readonly path: string };

/** `lib.import` for a script in `dir` (relative paths resolve against it). */
export function makeImport(dir: string): (path: ImportBase, inside?: string) => IO<unknown> {
  return function importPath(path: ImportBase, inside?: string): IO<unknown> {
    const shown = typeof path === "string" ? path : typeof path?.path === "string" ? path.path : "?";
    return primitive(`import ${shown}${inside === undefined ? "" : ` ${String(inside)}`}`, (ctx) => {
      const isInput = typeof path === "object" && path !== null;
      const file = !isInput && inside === undefined ? locate(path as string, dir) : locateInside(path, inside, dir);
      return asyncStep(`lib.import(${shown}${inside === undefined ? "" : `, ${inside}`})`, async () => defaultExport(await importModule(file, ctx.cacheDir)));
    });
  };
}

function locate(path: string, dir: string): string {
  if (typeof path !== "string" || path === "") {
    throw new TsexecError(`lib.import expects a path (a non-empty string) or an input, got ${describeValue(path)}`);
  }
  const absolute = resolve(dir, path);
  const real = realOrUndefined(absolute);
  if (real !== undefined) refuseEscapeFromCheckout(path, absolute, real); // before a directory outside is even looked into
  let file: string;
  try {
    file = locateScript(path, dir);
  } catch (error) {
    throw new TsexecError(`lib.import: ${(error as Error).message} (relative paths resolve against ${dir})`);
  }
  refuseEscapeFromCheckout(path, absolute, file);
  return file;
}

/** `inside` (default: the directory's default.ts/index.ts) within `base`, which it may not leave. */
function locateInside(base: ImportBase, inside: string | undefined, dir: string): string {
  const root = typeof base === "string" ? base : base !== null && typeof base === "object" && typeof base.path === "string" ? base.path : undefined;
  if (root === undefined || root === "") {
    throw new TsexecError(`lib.import expects an input (or a directory) and a path inside it, got ${describeValue(base)}`);
  }
  if (inside !== undefined && (typeof inside !== "string" || inside === "")) {
    throw new TsexecError(`lib.import(${root}, …) expects a path inside it (a non-empty string), got ${describeValue(inside)}`);
  }
  const relative = inside ?? ".";
  const normal = normalize(relative);
  if (isAbsolute(relative) || normal === ".." || normal.startsWith(`..${sep}`)) {
    throw new TsexecError(`lib.import: '${relative}' leads out of ${root}: give a path inside it`);
  }
  let realRoot: string;
  try {
    realRoot = realpathSync(resolve(dir, root));
  } catch {
    throw new TsexecError(`lib.import: cannot find '${root}' (relative paths resolve against ${dir})`);
  }
  const file = locate(normal, realRoot);
  if (!file.startsWith(realRoot + sep)) {
    throw new TsexecError(`lib.import: '${relative}' leads out of ${root} (a symlink to ${file})`);
  }
  return file;
}
