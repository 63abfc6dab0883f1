/**
 * `import()` of a package or a URL at run time (user scripts, yargs,
 * es-module-lexer). One function, because the published build runs tsexec's
 * core as a code-cached script, where `import()` is unavailable: there the
 * build swaps this module for the ES module facade's own `import()` (see
 * scripts/build.mjs).
 */
export function dynamicImport<T = Record<string, unknown>>(specifier: string): Promise<T> {
  return import(specifier) as Promise<T>;
}
