/**
 * The native argv globals, `tsexec_argc` / `tsexec_argv` (include/tsexec.h).
 *
 * Node cannot add symbols to its own global scope, so tsexec compiles a tiny
 * library that defines them (native/tsexec-argv.c) into its build store, loads
 * it with RTLD_GLOBAL, and fills it from the command line. This happens only
 * when a library fails to load because it refers to one of them: scripts that
 * call libm never need a compiler. After that the library is retried and its
 * references resolve against the global one.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { packageRoot } from "../../base/package.js";
import { runCommand, toFile, type Derivation } from "../derivation/derivation.js";
import { realiseSync } from "../derivation/store.js";
import { koffi, type LibraryHandle } from "./koffi.js";

const argvSymbol = /undefined symbol: (tsexec_argc|tsexec_argv)\b/;

/** The loaded argv library; kept referenced so koffi never unloads it. */
let argvLibrary: LibraryHandle | undefined;

/**
 * Runs `load` (the dlopen `site` names); if it fails only because the argv globals
 * are missing, provides them and runs it again.
 */
export function loadWithArgv<T>(site: string, ctx: PrimitiveContext, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (argvLibrary !== undefined || !argvSymbol.test((error as Error).message)) throw error;
  }
  provideArgv(site, ctx);
  return load();
}

/** The derivation that compiles the argv library (exported for tests). */
export function argvLibraryDerivation(): Derivation {
  const source = toFile("tsexec-argv.c", readFileSync(join(packageRoot, "native", "tsexec-argv.c"), "utf8"));
  return runCommand("libtsexec-argv.so", { source }, 'cc -shared -fPIC -O2 -o "$out" "$source"');
}

function provideArgv(site: string, ctx: PrimitiveContext): void {
  let path: string;
  try {
    path = realiseSync(argvLibraryDerivation(), ctx);
  } catch (error) {
    throw new TsexecError(
      `${site}: the library uses tsexec_argc/tsexec_argv; tsexec defines them in a small library it compiles with cc, ` +
        `and that failed: ${(error as Error).message}`,
      error instanceof TsexecError ? error.exitCode : 1,
      { cause: error },
    );
  }
  const lib = koffi().load(path, { global: true });
  const argv = ctx.options.argv;
  // Outside the tsexec CLI (unsafe-lib, run()) there is no tsexec command line: 0 and NULL.
  if (Array.isArray(argv) && argv.every((arg) => typeof arg === "string")) {
    const commandLine = argv.slice(1) as string[];
    if (lib.func("int tsexec_set_argv(int argc, const char **argv)")(commandLine.length, [...commandLine, null]) !== 0) {
      throw new TsexecError("lib.dlopen: out of memory while copying the command line for tsexec_argv");
    }
  }
  argvLibrary = lib;
}
