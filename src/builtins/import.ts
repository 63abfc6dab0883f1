/**
 * `lib.import(path)`: loads a TypeScript or JavaScript module (a file, or a
 * directory's default.ts/index.ts) with the loader tsexec runs scripts with,
 * and yields its default export, or its namespace when it has none. The
 * nixops sketch's `import src lib`: a fetched tool's entry point is a
 * function of `lib`.
 */
import { asyncStep, primitive, type IO } from "../monad/io.js";
import { describeValue } from "../monad/describe.js";
import { TsexecError } from "../runtime/errors.js";
import { defaultExport, importModule, locateScript } from "../runtime/loader/index.js";

/** `lib.import` for a script in `dir` (relative paths resolve against it). */
export function makeImport(dir: string): (path: string) => IO<unknown> {
  return function importPath(path: string): IO<unknown> {
    return primitive(`import ${String(path)}`, (ctx) => {
      if (typeof path !== "string" || path === "") {
        throw new TsexecError(`lib.import expects a path (a non-empty string), got ${describeValue(path)}`);
      }
      let file: string;
      try {
        file = locateScript(path, dir);
      } catch (error) {
        throw new TsexecError(`lib.import: ${(error as Error).message} (relative paths resolve against ${dir})`);
      }
      return asyncStep(`lib.import(${path})`, async () => defaultExport(await importModule(file, ctx.cacheDir)));
    });
  };
}
