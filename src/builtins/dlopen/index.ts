/**
 * `lib.dlopen(filename, symbol, args)`: call native code.
 *
 * - `symbol` a C prototype ("double cos(double)") or a signature object: the
 *   C function is called through koffi with `args` converted.
 * - `symbol` a bare name: the library is a Node-API module and its export of
 *   that name is called with `args` as JS values (nix-exec's PrimOpFun).
 *
 * The IO is synchronous when the library is a path, a loader name or a built
 * derivation (so it works inside `unsafePerformIO`); only an unbuilt
 * derivation adds an asynchronous build step. Each dlopen IO resolves its
 * library and function once, on its first run, and keeps the resulting call:
 * later runs are one closure call away from koffi's.
 */
import { isAbsolute, resolve } from "node:path";
import { realpathSync } from "node:fs";
import { bind, io, primitive, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../runtime/errors.js";
import { isDerivation, type Derivation } from "../derivation/derivation.js";
import { outputOf } from "../derivation/index.js";
import { bindCFunction, type LibraryRef, type NativeSignature } from "./ffi.js";
import { bindNodeApiFunction } from "./napi.js";

export type { NativeSignature } from "./ffi.js";

export type Dlopen = <R = unknown>(filename: string | Derivation, symbol: string | NativeSignature, args: readonly unknown[]) => IO<R>;

const bareName = /^[A-Za-z_$][\w$]*$/;

/** `lib.dlopen` for a script in `dir` (relative paths resolve against it). */
export function makeDlopen(dir: string): Dlopen {
  return function dlopen<R>(filename: string | Derivation, symbol: string | NativeSignature, args: readonly unknown[]): IO<R> {
    checkFilename(filename);
    const symbolIsName = checkSymbol(symbol);
    if (!Array.isArray(args)) {
      throw new TypeError(`lib.dlopen expects an array of arguments as its third argument (dlopen filename symbol args), got ${describeValue(args)}`);
    }
    const fixedArgs = [...args];
    const symbolShown = typeof symbol === "string" ? symbol.trim() : symbol.name;
    const label = `dlopen ${isDerivation(filename) ? filename.storeName : filename} ${symbolShown}`;

    const bindCall = (library: LibraryRef, ctx: PrimitiveContext): (() => unknown) =>
      symbolIsName
        ? bindNodeApiFunction(library, symbol as string, fixedArgs, ctx)
        : bindCFunction(library, symbol as string | NativeSignature, fixedArgs, ctx);

    // The resolved call, kept with the cache directory it was resolved in (a derivation's path depends on it).
    let resolvedStep: IO<R> | undefined;
    let resolvedFor: string | undefined;
    const resolveStep = (library: LibraryRef, ctx: PrimitiveContext): IO<R> => {
      resolvedStep = io(bindCall(library, ctx)) as IO<R>;
      resolvedFor = ctx.cacheDir;
      return resolvedStep;
    };

    return primitive(label, (ctx) => {
      if (resolvedStep !== undefined && (resolvedFor === ctx.cacheDir || !isDerivation(filename))) return resolvedStep;
      if (!isDerivation(filename)) return resolveStep(locate(filename, dir, symbolShown), ctx);
      return bind(outputOf(filename, ctx), (built) => resolveStep(locate(built, dir, symbolShown), ctx));
    });
  };
}

function checkFilename(filename: unknown): void {
  if (isDerivation(filename)) return;
  if (typeof filename !== "string" || filename === "") {
    throw new TypeError(
      `lib.dlopen expects a library path, a library name or a derivation as its first argument (dlopen filename symbol args), got ${describeValue(filename)}`,
    );
  }
}

/** True for a bare name (a Node-API export), false for a C prototype or signature object. */
function checkSymbol(symbol: unknown): boolean {
  if (typeof symbol === "string") {
    if (bareName.test(symbol.trim())) return true;
    if (symbol.includes("(")) return false;
    throw new TypeError(
      `lib.dlopen: '${symbol}' is neither a C prototype (e.g. "int add(int a, int b)") nor the bare name of a Node-API export`,
    );
  }
  const signature = symbol as Partial<NativeSignature> | null;
  if (typeof signature === "object" && signature !== null && typeof signature.name === "string" && Array.isArray(signature.parameters) && signature.result !== undefined) {
    return false;
  }
  throw new TypeError(
    `lib.dlopen expects a C prototype, a signature object { name, result, parameters } or a Node-API export name as its second argument, got ${describeValue(symbol)}`,
  );
}

/**
 * A name without a slash is for the dynamic loader ("libm.so.6"); anything
 * else is a path, relative to the script's directory, cached by real path.
 */
function locate(filename: string, dir: string, symbol: string): LibraryRef {
  if (!filename.includes("/")) return { key: filename, load: filename, shown: filename };
  const path = isAbsolute(filename) ? filename : resolve(dir, filename);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    const relative = isAbsolute(filename) ? "" : ` (relative paths resolve against the script's directory, ${dir})`;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new TsexecError(`lib.dlopen(${path}, "${symbol}"): no such file (${code}); check the path${relative}.`);
  }
  return { key: real, load: real, shown: path };
}
