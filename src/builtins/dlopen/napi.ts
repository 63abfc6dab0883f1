/**
 * Node-API modules: nix-exec's PrimOpFun for tsexec. A library built with
 * `NAPI_MODULE_INIT` is loaded once with `process.dlopen`; its exports are
 * JS functions that take and return the runtime's own values.
 */
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { loadWithArgv } from "./argv.js";
import { loadError, nativeStats, where, type LibraryRef } from "./ffi.js";

/** Node-API modules' exports, by real path or loader name. */
const modules = new Map<string, Record<string, unknown>>();

/** The export a dlopen IO with a bare symbol name calls each time it runs. */
export function nodeApiFunction(library: LibraryRef, symbol: string, ctx: PrimitiveContext): (...args: unknown[]) => unknown {
  const exports = loadModule(library, symbol, ctx);
  const fn = exports[symbol];
  if (typeof fn !== "function") {
    const names = Object.keys(exports).filter((key) => typeof exports[key] === "function");
    throw new TsexecError(
      `${where(library, symbol)}: the Node-API module has no function '${symbol}' ` +
        `(${names.length ? `its functions: ${names.join(", ")}` : "it exports no functions"}). Check the name it sets on exports.`,
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

function loadModule(library: LibraryRef, symbol: string, ctx: PrimitiveContext): Record<string, unknown> {
  const cached = modules.get(library.key);
  if (cached !== undefined) return cached;
  const module = { exports: {} as Record<string, unknown> };
  try {
    loadWithArgv(where(library, symbol), ctx, () => {
      nativeStats.nodeApiLoads++;
      process.dlopen(module, library.load);
    });
  } catch (error) {
    if (error instanceof TsexecError) throw error;
    const message = (error as Error).message;
    if (/did not self-register/.test(message)) {
      throw new TsexecError(
        `${where(library, symbol)}: ${library.shown} is not a Node-API module, so '${symbol}' cannot be called with JS values. ` +
          `Give a C prototype instead, e.g. lib.dlopen(library, "int ${symbol}(int a, int b)", [1, 2]).`,
      );
    }
    throw loadError(library, symbol, error as Error);
  }
  modules.set(library.key, module.exports);
  return module.exports;
}
