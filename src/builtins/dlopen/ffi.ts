/**
 * C functions through koffi: loading libraries, reading prototypes, checking
 * arguments before they reach native code, and the caches that make a dlopen
 * IO cost little more than the raw koffi call.
 */
import { koffi, type KoffiFunction, type KoffiTypeObject, type LibraryHandle } from "./koffi.js";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../runtime/errors.js";
import { describeValue } from "../../monad/describe.js";
import { loadWithArgv } from "./argv.js";

/** A C function's signature as an object, for koffi's classic form: `{ name: "add", result: "int", parameters: ["int", "int"] }`. */
export interface NativeSignature {
  readonly name: string;
  readonly result: string | KoffiTypeObject;
  /** Parameter types; a final `"..."` makes the function variadic. */
  readonly parameters: readonly (string | KoffiTypeObject)[];
}

/** Where a library comes from, as dlopen resolved it. */
export interface LibraryRef {
  /** Cache key: the real path, or the name the dynamic loader resolves. */
  readonly key: string;
  /** What is passed to dlopen. */
  readonly load: string;
  /** How messages name it (the path or name as given, resolved). */
  readonly shown: string;
}

/** Counts native work in this process; tests read it to prove the caches hold. */
export const nativeStats = { libraryLoads: 0, functionLookups: 0, nodeApiLoads: 0 };

/** Loaded libraries, by real path or loader name. The handles are kept: koffi unloads a library once unreferenced. */
const libraries = new Map<string, LibraryHandle>();
/** Declared functions, by library key and signature. */
const functions = new Map<string, DeclaredFunction>();

interface DeclaredFunction {
  readonly fn: KoffiFunction;
  /** The prototype as messages show it. */
  readonly shown: string;
  readonly variadic: boolean;
}

/**
 * Declares `signature` in the library and checks `args` against it once;
 * returns the call the dlopen IO makes each time it runs.
 */
export function bindCFunction(
  library: LibraryRef,
  signature: string | NativeSignature,
  args: readonly unknown[],
  ctx: PrimitiveContext,
): () => unknown {
  const declared = declare(library, signature, ctx);
  checkArguments(library, declared, args);
  const call = bindArguments(declared.fn, args);
  return () => {
    try {
      return call();
    } catch (error) {
      throw new TsexecError(`${where(library, declared.shown)}: the call failed: ${(error as Error).message}`, 1, { cause: error });
    }
  };
}

function declare(library: LibraryRef, signature: string | NativeSignature, ctx: PrimitiveContext): DeclaredFunction {
  const key = `${library.key}\u0000${signatureKey(signature)}`;
  const cached = functions.get(key);
  if (cached !== undefined) return cached;
  const shown = typeof signature === "string" ? signature.trim() : showSignature(signature);
  const lib = loadLibrary(library, shown, ctx);
  let fn: KoffiFunction;
  try {
    nativeStats.functionLookups++;
    fn = typeof signature === "string" ? lib.func(signature) : lib.func(signature.name, signature.result, [...signature.parameters]);
  } catch (error) {
    throw declarationError(library, signature, shown, error as Error);
  }
  const declared: DeclaredFunction = { fn, shown, variadic: isVariadic(signature) };
  functions.set(key, declared);
  return declared;
}

/** Loads a library once per process (RTLD_NOW, RTLD_LOCAL: symbols resolve at load, nothing leaks into other libraries). */
export function loadLibrary(library: LibraryRef, symbol: string, ctx: PrimitiveContext): LibraryHandle {
  const cached = libraries.get(library.key);
  if (cached !== undefined) return cached;
  let lib: LibraryHandle;
  try {
    lib = loadWithArgv(where(library, symbol), ctx, () => {
      nativeStats.libraryLoads++;
      return koffi().load(library.load);
    });
  } catch (error) {
    if (error instanceof TsexecError) throw error;
    throw loadError(library, symbol, error as Error);
  }
  libraries.set(library.key, lib);
  return lib;
}

/** Turns a dlopen failure into a message that names the library and says what to do. */
export function loadError(library: LibraryRef, symbol: string, error: Error): TsexecError {
  const reason = error.message.replace(/^Failed to load shared library: /, "").replace(`${library.load}: `, "");
  if (!library.load.includes("/") && /cannot open shared object file/.test(reason)) {
    return new TsexecError(
      `${where(library, symbol)}: the dynamic loader cannot find the library '${library.load}' (${reason}). ` +
        `Give its path (e.g. "./${library.load}" for a file beside the script) or install it.`,
    );
  }
  if (/No such file or directory/.test(reason)) {
    return new TsexecError(`${where(library, symbol)}: no such file (${reason}); check the path.`);
  }
  return new TsexecError(
    `${where(library, symbol)}: ${library.shown} is not a shared object that can be loaded (${reason}). ` +
      `Give the path of a library compiled for this machine (e.g. with cc -shared -fPIC).`,
  );
}

/** How every dlopen error starts: the library and the symbol. */
export function where(library: LibraryRef, symbol: string): string {
  return `lib.dlopen(${library.shown}, "${symbol}")`;
}

function declarationError(library: LibraryRef, signature: string | NativeSignature, shown: string, error: Error): TsexecError {
  const name = typeof signature === "string" ? prototypeName(signature) : signature.name;
  if (/^Cannot find function/.test(error.message)) {
    return new TsexecError(
      `${where(library, shown)}: ${library.shown} has no function '${name}'. ` +
        `Check the name; \`nm -D --defined-only ${library.load}\` lists what it exports (C++ names need extern "C").`,
    );
  }
  return new TsexecError(
    `${where(library, shown)}: cannot read the prototype: ${error.message}. ` +
      `Write a C prototype such as "int add(int a, int b)", or an object { name, result, parameters }.`,
  );
}

/** Types koffi reads as an address when given a number: a number there would be dereferenced and crash the process. */
const pointerKinds = new Set(["Pointer", "String", "String16", "String32", "Callback", "Prototype"]);

function isPointer(type: KoffiTypeObject): boolean {
  return pointerKinds.has(type.primitive);
}

/**
 * koffi ignores extra arguments and reads a number given for a pointer as an
 * address: both are refused here, before any native code runs, and so is
 * undefined for a pointer. A pointer a
 * native call returned (a BigInt in koffi 3), a string, a Buffer, an array or
 * null may be passed for a pointer.
 */
function checkArguments(library: LibraryRef, declared: DeclaredFunction, args: readonly unknown[]): void {
  // koffi 3's typings say TypeObject[]; at run time each entry is { type, direction }.
  const parameters = declared.fn.info.arguments as unknown as readonly { readonly type: KoffiTypeObject }[];
  const fixed = parameters.length;
  const site = where(library, declared.shown);
  if (declared.variadic ? args.length < fixed || (args.length - fixed) % 2 !== 0 : args.length !== fixed) {
    const expected = declared.variadic ? `${fixed} arguments, then pairs of (type, value)` : plural(fixed, "argument");
    throw new TsexecError(`${site}: the function takes ${expected}, got ${plural(args.length, "argument")}. Pass exactly what the prototype declares.`);
  }
  parameters.forEach((parameter, i) => {
    if (isPointer(parameter.type)) refuseNumber(site, i, parameter.type.name, args[i]);
  });
  for (let i = fixed; i < args.length; i += 2) {
    const type = variadicType(site, i, args[i]);
    if (isPointer(type)) refuseNumber(site, i + 1, type.name, args[i + 1]);
  }
}

/** A number would be read as an address; undefined is almost always a missing value, passed on as NULL. */
function refuseNumber(site: string, index: number, typeName: string, value: unknown): void {
  if (typeof value !== "number" && value !== undefined) return;
  const why = value === undefined ? "undefined would be passed as NULL (pass null if NULL is meant)" : "a number there would be read as an address and crash";
  throw new TsexecError(
    `${site}: argument ${index + 1} is a pointer (${typeName}) but got ${describeValue(value)}: ${why}. ` +
      `Pass a string, a Buffer, an array, null, or a pointer a native call returned.`,
  );
}

function variadicType(site: string, index: number, spec: unknown): KoffiTypeObject {
  try {
    return koffi().type(spec as string);
  } catch (error) {
    throw new TsexecError(
      `${site}: argument ${index + 1} should name the C type of the next variadic argument (e.g. "int" or "const char *"), ` +
        `got ${describeValue(spec)}: ${(error as Error).message}`,
    );
  }
}

/** A closure per arity: `fn(a, b)` is ~25 ns faster than `fn(...args)` per call. */
export function bindArguments(fn: (...args: unknown[]) => unknown, args: readonly unknown[]): () => unknown {
  switch (args.length) {
    case 0:
      return () => fn();
    case 1: {
      const [a] = args;
      return () => fn(a);
    }
    case 2: {
      const [a, b] = args;
      return () => fn(a, b);
    }
    case 3: {
      const [a, b, c] = args;
      return () => fn(a, b, c);
    }
    case 4: {
      const [a, b, c, d] = args;
      return () => fn(a, b, c, d);
    }
    default: {
      const all = [...args];
      return () => fn(...all);
    }
  }
}

function signatureKey(signature: string | NativeSignature): string {
  if (typeof signature === "string") return signature.replace(/\s+/g, " ").trim();
  const typeKey = (type: string | KoffiTypeObject) => (typeof type === "string" ? type : `#${type.name}`);
  return JSON.stringify([signature.name, typeKey(signature.result), signature.parameters.map(typeKey)]);
}

function showSignature(signature: NativeSignature): string {
  const typeName = (type: string | KoffiTypeObject) => (typeof type === "string" ? type : type.name);
  return `${typeName(signature.result)} ${signature.name}(${signature.parameters.map(typeName).join(", ")})`;
}

function isVariadic(signature: string | NativeSignature): boolean {
  return typeof signature === "string" ? /\.\.\.\s*\)\s*;?\s*$/.test(signature) : signature.parameters.at(-1) === "...";
}

/** The function name in a C prototype (the identifier before the parameter list), for messages. */
export function prototypeName(prototype: string): string {
  return /([A-Za-z_]\w*)\s*\(/.exec(prototype)?.[1] ?? prototype.trim();
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
