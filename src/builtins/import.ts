/**
 * `lib.import(path)`: loads a TypeScript or JavaScript module (a file, or a
 * directory's default.ts/index.ts) with the loader tsexec runs scripts with,
 * and yields its default export, or its namespace when it has none. The
 * nixops sketch's `import src lib`: a fetched tool's entry point is a
 * function of `lib`.
 */
import { realpathSync } from "node:fs";
import { resolve, sep } from "node:path";
import { asyncStep, primitive, type IO } from "../monad/io.js";
import { describeValue } from "../monad/describe.js";
import { TsexecError } from "../runtime/errors.js";
import { defaultExport, importModule, locateScript } from "../runtime/loader/index.js";
import { checkoutHolding } from "./fetchgit/cache.js";

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

/** `lib.import` for a script in `dir` (relative paths resolve against it). */
export function makeImport(dir: string): (path: string) => IO<unknown> {
  return function importPath(path: string): IO<unknown> {
    return primitive(`import ${String(path)}`, (ctx) => {
      if (typeof path !== "string" || path === "") {
        throw new TsexecError(`lib.import expects a path (a non-empty string), got ${describeValue(path)}`);
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
      return asyncStep(`lib.import(${path})`, async () => defaultExport(await importModule(file, ctx.cacheDir)));
    });
  };
}
