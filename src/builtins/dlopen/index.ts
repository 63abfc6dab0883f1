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
import { realpathSync, statSync } from "node:fs";
import { bind, io, primitive, unit, type IO, type PrimitiveContext } from "../../monad/io.js";
import { isTracing } from "../../monad/trace.js";
import { ambientContext } from "../../base/context.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { isDerivation, type Derivation } from "../derivation/derivation.js";
import { outputOf } from "../derivation/index.js";
import { declareCFunction, nativeStats, signatureKey, type LibraryRef, type NativeSignature } from "./ffi.js";
import { nodeApiFunction } from "./napi.js";
import { CTarget, NodeApiTarget, type CallTarget } from "./target.js";

export type { NativeSignature } from "./ffi.js";

export type Dlopen = <R = unknown>(filename: string | Derivation, symbol: string | NativeSignature, args: readonly unknown[]) => IO<R>;

const bareName = /^[A-Za-z_$][\w$]*$/;

/**
 * `lib.dlopen` for a script in `dir` (relative paths resolve against it).
 *
 * Each (filename, symbol) is a call site, checked and resolved once for the
 * process (real path, library, declared function, argument checks): a new
 * dlopen IO for a known site is one closure and one node, and running it is
 * the checks and the koffi call.
 */
export function makeDlopen(dir: string): Dlopen {
  const sites = new SiteTable(dir);
  return function dlopen<R>(filename: string | Derivation, symbol: string | NativeSignature, args: readonly unknown[]): IO<R> {
    const site = sites.find(filename, symbol);
    if (!Array.isArray(args)) {
      throw new TypeError(`lib.dlopen expects an array of arguments as its third argument (dlopen filename symbol args), got ${describeValue(args)}`);
    }
    return site.io(args) as IO<R>;
  };
}

/** Call sites by filename (a string, or a derivation object), then by symbol. */
class SiteTable {
  private readonly byPath = new Map<string, Map<string, Site>>();
  private readonly byDerivation = new Map<Derivation, Map<string, Site>>();

  constructor(private readonly dir: string) {}

  /** The last site found, by its exact arguments: a script's loop calls one site over and over. */
  private lastFilename: unknown = undefined;
  private lastSymbol: unknown = undefined;
  private lastSite: Site | undefined = undefined;

  find(filename: string | Derivation, symbol: string | NativeSignature): Site {
    if (filename === this.lastFilename && symbol === this.lastSymbol && typeof symbol === "string") return this.lastSite!;
    const site = this.lookup(filename, symbol);
    this.lastFilename = filename;
    this.lastSymbol = symbol;
    this.lastSite = site;
    return site;
  }

  private lookup(filename: string | Derivation, symbol: string | NativeSignature): Site {
    const table = typeof filename === "string" ? this.byPath.get(filename) : isDerivation(filename) ? this.byDerivation.get(filename) : undefined;
    // A prototype string is its own key (spaced differently: another site, the same declared function);
    // a signature object is keyed by its contents, so a fresh literal per call finds its site too.
    const key = typeof symbol === "string" ? symbol : `\u0000${signatureKey(checkedSignature(symbol))}`;
    const known = table?.get(key);
    if (known !== undefined) return known;
    checkFilename(filename);
    const napi = checkSymbol(symbol);
    const site = new Site(filename, symbol, napi, this.dir);
    let sitesForFile = table;
    if (sitesForFile === undefined) {
      sitesForFile = new Map();
      if (typeof filename === "string") this.byPath.set(filename, sitesForFile);
      else this.byDerivation.set(filename, sitesForFile);
    }
    sitesForFile.set(key, site);
    return site;
  }
}

/**
 * One (script directory, filename, symbol). Its target is resolved on the
 * first run and kept for the process: a library path's real path, the loaded
 * library and the declared function. A derivation's target is kept per cache
 * directory (its output path depends on it).
 */
class Site {
  private readonly label: string;
  private target: CallTarget | undefined;
  /** The cache directory a derivation's target was resolved in; "" for paths (any). */
  private resolvedFor: string | undefined;

  constructor(
    private readonly filename: string | Derivation,
    private readonly symbol: string | NativeSignature,
    private readonly napi: boolean,
    private readonly dir: string,
  ) {
    this.label = `dlopen ${isDerivation(filename) ? filename.storeName : filename} ${symbolShown(symbol)}`;
  }

  /** A dlopen IO with `args`: one closure (holding up to three arguments as they are now) and one node. */
  io(args: readonly unknown[]): IO<unknown> {
    // A library path resolved already holds for any run: the IO is a plain synchronous effect,
    // which the interpreter runs as it runs lib.io (no primitive step), unless --verbose or
    // --show-trace want the step named.
    const known = this.resolvedFor === "" ? this.target : undefined;
    if (known !== undefined && !isTracing() && !ambientContext().verbose) return effectOf(known, args);
    const site = this;
    switch (args.length) {
      case 0:
        return primitive(this.label, (ctx) => {
          const target = site.ready(ctx);
          return target !== undefined ? unit(target.call0()) : site.resolveThen(ctx, (t) => t.call0());
        });
      case 1: {
        const a = args[0];
        return primitive(this.label, (ctx) => {
          const target = site.ready(ctx);
          return target !== undefined ? unit(target.call1(a)) : site.resolveThen(ctx, (t) => t.call1(a));
        });
      }
      case 2: {
        const a = args[0];
        const b = args[1];
        return primitive(this.label, (ctx) => {
          const target = site.ready(ctx);
          return target !== undefined ? unit(target.call2(a, b)) : site.resolveThen(ctx, (t) => t.call2(a, b));
        });
      }
      case 3: {
        const [a, b, c] = args;
        return primitive(this.label, (ctx) => {
          const target = site.ready(ctx);
          return target !== undefined ? unit(target.call3(a, b, c)) : site.resolveThen(ctx, (t) => t.call3(a, b, c));
        });
      }
      default: {
        const all = [...args];
        return primitive(this.label, (ctx) => {
          const target = site.ready(ctx);
          return target !== undefined ? unit(target.call(all)) : site.resolveThen(ctx, (t) => t.call(all));
        });
      }
    }
  }

  /** The resolved target, if it holds for `ctx`. */
  private ready(ctx: PrimitiveContext): CallTarget | undefined {
    return this.resolvedFor === "" || this.resolvedFor === ctx.cacheDir ? this.target : undefined;
  }

  /** Resolves the target (building a derivation first, unless built), then calls it. */
  private resolveThen(ctx: PrimitiveContext, call: (target: CallTarget) => unknown): IO<unknown> {
    const filename = this.filename;
    if (!isDerivation(filename)) return unit(call(this.resolve(filename, "", ctx)));
    return bind(outputOf(filename, ctx), (built) => unit(call(this.resolve(built, ctx.cacheDir, ctx))));
  }

  private resolve(path: string, resolvedFor: string, ctx: PrimitiveContext): CallTarget {
    nativeStats.siteResolutions++;
    const library = locate(path, this.dir, symbolShown(this.symbol));
    const target = this.napi
      ? new NodeApiTarget(nodeApiFunction(library, (this.symbol as string).trim(), ctx))
      : new CTarget(library, declareCFunction(library, this.symbol, ctx));
    this.target = target;
    this.resolvedFor = resolvedFor;
    return target;
  }
}

/** The call of a resolved target as a synchronous effect, holding up to three arguments as they are. */
function effectOf(target: CallTarget, args: readonly unknown[]): IO<unknown> {
  switch (args.length) {
    case 0:
      return io(() => target.call0());
    case 1: {
      const a = args[0];
      return io(() => target.call1(a));
    }
    case 2: {
      const a = args[0];
      const b = args[1];
      return io(() => target.call2(a, b));
    }
    case 3: {
      const [a, b, c] = args;
      return io(() => target.call3(a, b, c));
    }
    default: {
      const all = [...args];
      return io(() => target.call(all));
    }
  }
}

function symbolShown(symbol: string | NativeSignature): string {
  return typeof symbol === "string" ? symbol.trim() : symbol.name;
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
  checkedSignature(symbol);
  return false;
}

function checkedSignature(symbol: unknown): NativeSignature {
  const signature = symbol as Partial<NativeSignature> | null;
  if (typeof signature === "object" && signature !== null && typeof signature.name === "string" && Array.isArray(signature.parameters) && signature.result !== undefined) {
    return signature as NativeSignature;
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
  // dlopen() opens the file before it reads a byte: a FIFO would block it (and the whole event loop,
  // signals included) until a writer comes. Only a regular file can be a library.
  const stat = statSync(real, { throwIfNoEntry: false });
  if (stat !== undefined && !stat.isFile()) {
    const kind = stat.isDirectory() ? "a directory" : stat.isFIFO() ? "a FIFO" : stat.isSocket() ? "a socket" : stat.isCharacterDevice() || stat.isBlockDevice() ? "a device" : "not a regular file";
    throw new TsexecError(`lib.dlopen(${path}, "${symbol}"): ${real === path ? "it" : real} is ${kind}, not a shared library; name a library file.`);
  }
  return { key: real, load: real, shown: path };
}
