/**
 * C functions through koffi: loading libraries, reading prototypes, checking
 * arguments before they reach native code, and the caches that make a dlopen
 * IO cost little more than the raw koffi call.
 */
import { koffi, type KoffiFunction, type KoffiTypeObject, type LibraryHandle } from "./koffi.js";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
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
export const nativeStats = { libraryLoads: 0, functionLookups: 0, nodeApiLoads: 0, siteResolutions: 0 };

/** Loaded libraries, by real path or loader name. The handles are kept: koffi unloads a library once unreferenced. */
const libraries = new Map<string, LibraryHandle>();
/** Declared functions, by library key and signature. */
const functions = new Map<string, CFunction>();

/**
 * A declared C function and what a call checks before native code runs, all
 * worked out once per (library, signature): the per-call path is an arity
 * test, one precomputed check per parameter, and the koffi call.
 */
export interface CFunction {
  readonly fn: KoffiFunction;
  /** The prototype as messages show it. */
  readonly shown: string;
  readonly variadic: boolean;
  /** The fixed parameters' checks, in order. */
  readonly parameters: readonly Parameter[];
}

/** One parameter's check: a problem (worded to follow "got <value>: ") or undefined. */
export type Check = (value: unknown) => string | undefined;

export interface Parameter {
  /** "argument 2 (b) is an int (Int32: -2147483648 to 2147483647)": how a refusal names it. */
  readonly described: string;
  /** undefined: koffi's own conversion is safe (or throws a message of its own). */
  readonly check: Check | undefined;
}

/** Declares `signature` in the library (once per process); `library.shown` only words errors. */
export function declareCFunction(library: LibraryRef, signature: string | NativeSignature, ctx: PrimitiveContext): CFunction {
  return declare(library, signature, ctx);
}

/**
 * Checks `args` against the function before native code runs: koffi ignores
 * extra arguments, reads a number given for a pointer as an address, and
 * wraps integers that do not fit (int 1e20 becomes -1, uint8 300 becomes 44).
 */
export function checkArguments(library: LibraryRef, declared: CFunction, args: readonly unknown[]): void {
  const fixed = declared.parameters.length;
  if (declared.variadic ? args.length < fixed || (args.length - fixed) % 2 !== 0 : args.length !== fixed) {
    throw arityError(library, declared, args.length);
  }
  for (let i = 0; i < fixed; i++) {
    const check = declared.parameters[i]!.check;
    if (check !== undefined) {
      const problem = check(args[i]);
      if (problem !== undefined) throw argumentError(library, declared, declared.parameters[i]!, args[i], problem);
    }
  }
  if (!declared.variadic) return;
  const site = where(library, declared.shown);
  for (let i = fixed; i < args.length; i += 2) {
    const parameter = describeParameter(variadicType(site, i, args[i]), i + 2, undefined);
    const problem = parameter.check?.(args[i + 1]);
    if (problem !== undefined) throw argumentError(library, declared, parameter, args[i + 1], problem);
  }
}

export function arityError(library: LibraryRef, declared: CFunction, count: number): TsexecError {
  const fixed = declared.parameters.length;
  const expected = declared.variadic ? `${fixed} arguments, then pairs of (type, value)` : plural(fixed, "argument");
  return new TsexecError(
    `${where(library, declared.shown)}: the function takes ${expected}, got ${plural(count, "argument")}. Pass exactly what the prototype declares.`,
  );
}

export function argumentError(library: LibraryRef, declared: CFunction, parameter: Parameter, value: unknown, problem: string): TsexecError {
  return new TsexecError(`${where(library, declared.shown)}: ${parameter.described} but got ${describeValue(value)}: ${problem}`);
}

/** Wraps a failure koffi reports during a call (a string for an int, ...) so it names the function. */
export function callError(library: LibraryRef, declared: CFunction, error: unknown): TsexecError {
  return new TsexecError(`${where(library, declared.shown)}: the call failed: ${(error as Error).message}`, 1, { cause: error });
}

function declare(library: LibraryRef, signature: string | NativeSignature, ctx: PrimitiveContext): CFunction {
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
  // koffi 3's typings say TypeObject[]; at run time each entry is { type, direction }.
  const types = (fn.info.arguments as unknown as readonly { readonly type: KoffiTypeObject }[]).map((argument) => argument.type);
  const names = typeof signature === "string" ? parameterNames(signature, types.length) : [];
  const parameters = types.map((type, i) => describeParameter(type, i + 1, names[i]));
  const declared: CFunction = { fn, shown, variadic: isVariadic(signature), parameters };
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

/** A pointer parameter: a number would be read as an address; undefined is almost always a missing value, passed on as NULL. */
const checkPointer: Check = (value) => {
  if (typeof value === "number") {
    return "a number there would be read as an address and crash. Pass a string, a Buffer, an array, null, or a pointer a native call returned.";
  }
  if (value === undefined) {
    return "undefined would be passed as NULL (pass null if NULL is meant). Pass a string, a Buffer, an array, null, or a pointer a native call returned.";
  }
  return undefined;
};

/**
 * An integer parameter: a number or BigInt outside the C type's range would
 * be wrapped (or saturated) by koffi into another value, and NaN or Infinity
 * would become 0. Fractions are truncated, as C converts them.
 */
function integerCheck(min: bigint, max: bigint): Check {
  const low = Number(min);
  // max + 1 is a power of two, an exact double (max itself is not for 64 bits: 2^63 - 1 rounds to 2^63).
  // koffi reads numbers (not BigInts) through int64: from 2^63 on, a uint64_t needs a BigInt.
  const above = Number(max + 1n < 2n ** 63n ? max + 1n : 2n ** 63n);
  const advice = `Pass a value from ${min} to ${max}${max > 2n ** 53n ? " (a BigInt beyond 2^53)" : ""}.`;
  return (value) => {
    if (typeof value === "number") {
      if (value >= low && value < above) return undefined; // false for NaN too
      return `it is out of range and koffi would silently pass another value. ${advice}`;
    }
    if (typeof value === "bigint") {
      return value >= min && value <= max ? undefined : `it is out of range and koffi would silently pass another value. ${advice}`;
    }
    return undefined; // koffi refuses other types itself, with a message of its own
  };
}

const integerRanges = new Map<string, Check>();
for (const bits of [8, 16, 32, 64]) {
  const span = 2n ** BigInt(bits);
  for (const suffix of ["", "S"]) {
    integerRanges.set(`Int${bits}${suffix}`, integerCheck(-span / 2n, span / 2n - 1n));
    integerRanges.set(`UInt${bits}${suffix}`, integerCheck(0n, span - 1n));
  }
}

function describeParameter(type: KoffiTypeObject, position: number, name: string | undefined): Parameter {
  const which = `argument ${position}${name === undefined ? "" : ` (${name})`}`;
  if (pointerKinds.has(type.primitive)) return { described: `${which} is a pointer (${type.name})`, check: checkPointer };
  const range = integerRanges.get(type.primitive);
  if (range !== undefined) return { described: `${which} is ${article(type.name)} ${type.name} (${type.primitive})`, check: range };
  return { described: `${which} is ${article(type.name)} ${type.name}`, check: undefined };
}

function article(word: string): string {
  return /^(?:[aeio]|un)/i.test(word) ? "an" : "a"; // "an int", "an unsigned int", "a uint8_t"
}

/** Words that end a C type rather than name a parameter. */
const typeWords = new Set(["int", "char", "short", "long", "float", "double", "void", "bool", "_Bool", "signed", "unsigned", "const", "volatile", "restrict"]);

/**
 * The parameter names a C prototype gives, where it gives them ("int add(int a, int b)"
 * names a and b; "int add(int, int)" none), for messages only. Anything it cannot
 * read confidently (function pointers, a count that differs from koffi's) gives no names.
 */
export function parameterNames(prototype: string, count: number): (string | undefined)[] {
  const open = prototype.indexOf("(");
  const close = prototype.lastIndexOf(")");
  if (open < 0 || close < open) return [];
  const inner = prototype.slice(open + 1, close);
  if (inner.includes("(")) return [];
  const parts = inner.split(",").map((part) => part.trim()).filter((part) => part !== "..." && part !== "void" && part !== "");
  if (parts.length !== count) return [];
  return parts.map((part) => {
    const words = part.replace(/\[[^\]]*\]/g, " ").match(/[A-Za-z_]\w*|\*/g) ?? [];
    const last = words.at(-1);
    if (last === undefined || last === "*" || words.length < 2 || typeWords.has(last)) return undefined;
    const before = words.slice(0, -1);
    // "const size_t" or "struct foo": the last word is still the type ("unsigned n" is unsigned int n).
    if (before.every((word) => word === "const" || word === "volatile" || word === "struct" || word === "union" || word === "enum")) {
      return undefined;
    }
    return last;
  });
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

export function signatureKey(signature: string | NativeSignature): string {
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
