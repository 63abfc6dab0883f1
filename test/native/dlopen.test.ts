/** lib.dlopen in-process: calls, every error it reports, its caches, synchronous use. */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { copyFileSync, renameSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers.js";

// Every test in this file shares one fresh store: set before tsexec reads it.
process.env.TSEXEC_CACHE_DIR = tempDir("tsexec-native-cache-");

const { run, unsafePerformIO, makeLib } = await import("../../src/index.js");
const { nativeStats, parameterNames } = await import("../../src/builtins/dlopen/ffi.js");
const { compileFixtures } = await import("./fixtures.js");
type Fixtures = ReturnType<typeof compileFixtures>;

let fx: Fixtures;
let lib: ReturnType<typeof makeLib>;

beforeAll(() => {
  fx = compileFixtures();
  lib = makeLib({ dir: fx.dir });
});

/** Runs `io` and returns the error it fails with. */
async function failure(io: Parameters<typeof run>[0]): Promise<Error> {
  const outcome = await run(lib.attempt(io));
  if (outcome._tag === "Right") throw new Error(`expected a failure, got ${String(outcome.right)}`);
  return outcome.left;
}

describe("calling C functions through prototypes", () => {
  it("converts arguments and results", async () => {
    expect(await run(lib.dlopen(fx.library, "int add(int a, int b)", [2, 40]))).toBe(42);
    expect(await run(lib.dlopen(fx.library, "int text_length(const char *s)", ["héllo"]))).toBe(6);
  });

  it("accepts a signature object", async () => {
    const signature = { name: "add", result: "int", parameters: ["int", "int"] };
    expect(await run(lib.dlopen(fx.library, signature, [1, 2]))).toBe(3);
  });

  it("resolves relative paths against the script's directory and library names through the loader", async () => {
    expect(await run(lib.dlopen("./libfixture.so", "int add(int, int)", [5, 6]))).toBe(11);
    expect(await run(lib.dlopen("libm.so.6", "double cos(double)", [0]))).toBe(1);
  });

  it("passes back a pointer a native call returned", async () => {
    const program = lib.bind(lib.dlopen<bigint>(fx.library, "int *make_counter(int start)", [41]), (pointer) =>
      lib.dlopen(fx.library, "int read_counter(const int *p)", [pointer]),
    );
    expect(await run(program)).toBe(41);
  });

  it("runs the native function each time the IO runs", async () => {
    const tick = lib.dlopen<number>(fx.library, "int tick(void)", []);
    const first = await run(tick);
    expect(await run(tick)).toBe(first + 1);
    expect(await run(lib.mapM(() => tick, [1, 2, 3]))).toEqual([first + 2, first + 3, first + 4]);
  });
});

describe("Node-API modules (bare symbol names)", () => {
  it("calls an export with JS values", async () => {
    expect(await run(lib.dlopen(fx.napi, "sum", [1.5, 2.25]))).toBe(3.75);
    expect(await run(lib.dlopen(fx.napi, "length", [["a", "b", "c"]]))).toBe(3);
  });

  it("names a missing export and lists the module's functions", async () => {
    const error = await failure(lib.dlopen(fx.napi, "product", [1, 2]));
    expect(error.message).toContain(fx.napi);
    expect(error.message).toMatch(/no function 'product' \(its functions: sum, length\)/);
  });

  it("says to give a prototype when the library is not a Node-API module", async () => {
    const error = await failure(lib.dlopen(fx.library, "add", [1, 2]));
    expect(error.message).toContain(`lib.dlopen(${fx.library}, "add")`);
    expect(error.message).toMatch(/is not a Node-API module.*Give a C prototype instead/);
  });
});

describe("errors name the library and the symbol, and never crash", () => {
  it("a missing file", async () => {
    const error = await failure(lib.dlopen("./missing.so", "int add(int, int)", [1, 2]));
    expect(error.message).toBe(
      `lib.dlopen(${join(fx.dir, "missing.so")}, "int add(int, int)"): no such file (ENOENT); ` +
        `check the path (relative paths resolve against the script's directory, ${fx.dir}).`,
    );
  });

  it("a library name the dynamic loader cannot find", async () => {
    const error = await failure(lib.dlopen("libtsexec-nonexistent.so.7", "int f(void)", []));
    expect(error.message).toMatch(/lib\.dlopen\(libtsexec-nonexistent\.so\.7, "int f\(void\)"\): the dynamic loader cannot find/);
  });

  it("a file that is not a shared object", async () => {
    const error = await failure(lib.dlopen(fx.text, "int add(int, int)", [1, 2]));
    expect(error.message).toContain(`lib.dlopen(${fx.text}, "int add(int, int)"): ${fx.text} is not a shared object`);
    const napiError = await failure(lib.dlopen(fx.text, "add", [1, 2]));
    expect(napiError.message).toContain(`${fx.text} is not a shared object`);
  });

  it("a missing symbol", async () => {
    const error = await failure(lib.dlopen(fx.library, "int subtract(int a, int b)", [1, 2]));
    expect(error.message).toContain(`lib.dlopen(${fx.library}, "int subtract(int a, int b)"): ${fx.library} has no function 'subtract'`);
  });

  it("an unparsable prototype", async () => {
    for (const prototype of ["int add(int a, int b", "integer add(integer a)", "int add(int a,, int b)"]) {
      const error = await failure(lib.dlopen(fx.library, prototype, [1, 2]));
      expect(error.message).toContain(`lib.dlopen(${fx.library}, "${prototype}"): cannot read the prototype`);
    }
    expect(() => lib.dlopen(fx.library, "int add int", [])).toThrow(/neither a C prototype .* nor the bare name/);
  });

  it("too few or too many arguments (koffi would ignore extras)", async () => {
    const tooMany = await failure(lib.dlopen(fx.library, "int add(int a, int b)", [1, 2, 3]));
    expect(tooMany.message).toContain(`lib.dlopen(${fx.library}, "int add(int a, int b)"): the function takes 2 arguments, got 3 arguments`);
    const tooFew = await failure(lib.dlopen(fx.library, "int add(int a, int b)", [1]));
    expect(tooFew.message).toContain("takes 2 arguments, got 1 argument.");
  });

  it("a number (or undefined) where the prototype takes a pointer", async () => {
    const asString = await failure(lib.dlopen(fx.library, "int text_length(const char *s)", [12345]));
    expect(asString.message).toContain(`lib.dlopen(${fx.library}, "int text_length(const char *s)"): argument 1 (s) is a pointer (char *)`);
    expect(asString.message).toContain("a number (12345)");
    const asPointer = await failure(lib.dlopen(fx.library, "int read_counter(const int *p)", [0x1000]));
    expect(asPointer.message).toContain("argument 1 (p) is a pointer (int *)");
    const missing = await failure(lib.dlopen(fx.library, "int text_length(const char *s)", [undefined]));
    expect(missing.message).toContain("argument 1 (s) is a pointer (char *) but got undefined: undefined would be passed as NULL (pass null if NULL is meant)");
  });

  it("a number for a pointer in a variadic call", async () => {
    const error = await failure(lib.dlopen("libc.so.6", "int snprintf(char *buf, size_t n, const char *fmt, ...)", [null, 0, "%s", "const char *", 7]));
    expect(error.message).toContain("argument 5 is a pointer (char *)");
    const ok = await run(lib.dlopen("libc.so.6", "int snprintf(char *buf, size_t n, const char *fmt, ...)", [null, 0, "%s-%d", "const char *", "ab", "int", 7]));
    expect(ok).toBe(4);
    const signature = { name: "snprintf", result: "int", parameters: ["char *", "size_t", "const char *", "..."] };
    expect(await run(lib.dlopen("libc.so.6", signature, [null, 0, "%d", "int", 12345]))).toBe(5);
    const odd = await failure(lib.dlopen("libc.so.6", signature, [null, 0, "%d", "int"]));
    expect(odd.message).toContain("takes 3 arguments, then pairs of (type, value), got 4 arguments");
  });

  it("wrong argument types at construction", () => {
    expect(() => lib.dlopen(42 as never, "int f(void)", [])).toThrow(/library path, a library name or a derivation/);
    expect(() => lib.dlopen(fx.library, { name: "add" } as never, [])).toThrow(/signature object/);
    expect(() => lib.dlopen(fx.library, "int add(int, int)", 1 as never)).toThrow(/array of arguments/);
  });
});

describe("caches", () => {
  it("loads a library and declares a function once, however often the IO runs", async () => {
    const copy = join(tempDir(), "libcached.so");
    copyFileSync(fx.library, copy);
    const before = { ...nativeStats };
    const add = lib.dlopen<number>(copy, "int add(int a, int b)", [1, 2]);
    let total = 0;
    for (let i = 0; i < 10_000; i++) total += unsafePerformIO(add);
    expect(total).toBe(30_000);
    // A new IO value with the same path (through a symlink) and signature: no reload, no new declaration.
    const link = join(tempDir(), "link.so");
    symlinkSync(copy, link);
    expect(await run(lib.dlopen(link, "int add(int a, int b)", [3, 4]))).toBe(7);
    expect(nativeStats.libraryLoads - before.libraryLoads).toBe(1);
    expect(nativeStats.functionLookups - before.functionLookups).toBe(1);
    // Another signature in the same library: declared, not reloaded.
    expect(await run(lib.dlopen(copy, "int tick(void)", []))).toBe(1);
    expect(nativeStats.libraryLoads - before.libraryLoads).toBe(1);
    expect(nativeStats.functionLookups - before.functionLookups).toBe(2);
  });

  it("loads a Node-API module once", async () => {
    const copy = join(tempDir(), "napi-cached.so");
    copyFileSync(fx.napi, copy);
    const before = nativeStats.nodeApiLoads;
    for (let i = 0; i < 100; i++) expect(await run(lib.dlopen(copy, "sum", [i, 1]))).toBe(i + 1);
    expect(nativeStats.nodeApiLoads - before).toBe(1);
  });
});

describe("a fresh dlopen IO per call (nix-exec's shape)", () => {
  it("resolves each (filename, symbol) once for the process, however many IO values are made", async () => {
    const copy = join(tempDir(), "libfresh.so");
    copyFileSync(fx.library, copy);
    const before = { ...nativeStats };
    const step = (i: number): ReturnType<typeof lib.dlopen<number>> => lib.dlopen<number>(copy, "int add(int a, int b)", [i, 1]);
    const loop = (i: number, sum: number): ReturnType<typeof lib.unit<number>> =>
      i === 1000 ? lib.unit(sum) : lib.bind(step(i), (r) => loop(i + 1, sum + r));
    expect(await run(loop(0, 0))).toBe(500_500);
    expect(unsafePerformIO(lib.dlopen(copy, { name: "add", result: "int", parameters: ["int", "int"] }, [2, 2]))).toBe(4);
    expect(unsafePerformIO(lib.dlopen(copy, { name: "add", result: "int", parameters: ["int", "int"] }, [3, 3]))).toBe(6);
    expect(nativeStats.siteResolutions - before.siteResolutions).toBe(2);
    expect(nativeStats.libraryLoads - before.libraryLoads).toBe(1);
  });

  it("keeps the arguments as they were when the IO was made", async () => {
    const args = [1, 2];
    const add = lib.dlopen<number>(fx.library, "int add(int a, int b)", args);
    args[0] = 100;
    expect(await run(add)).toBe(3);
    const five = [1, 2, 3, 4, 5];
    const add5 = lib.dlopen<number>(fx.library, "int add5(int a, int b, int c, int d, int e)", five);
    five[4] = 100;
    expect(await run(add5)).toBe(15);
    expect(await run(lib.dlopen(fx.library, "int add3(int a, int b, int c)", [1, 2, 3]))).toBe(6);
  });

  it("checks the arity of every call, also once the site is resolved", async () => {
    expect(await run(lib.dlopen(fx.library, "int add(int a, int b)", [1, 2]))).toBe(3);
    for (const args of [[], [1], [1, 2, 3], [1, 2, 3, 4, 5]]) {
      const error = await failure(lib.dlopen(fx.library, "int add(int a, int b)", args));
      expect(error.message).toContain(`the function takes 2 arguments, got ${args.length} argument`);
    }
  });

  it("keeps what it resolved when the library file is replaced on disk (as Node's dlopen does)", async () => {
    const dir = tempDir();
    const path = join(dir, "libswap.so");
    copyFileSync(fx.library, path);
    expect(await run(lib.dlopen(path, "int add(int a, int b)", [1, 2]))).toBe(3);
    // Replace the file with one that has no add: the loaded library is still called.
    copyFileSync(fx.napi, join(dir, "other.so"));
    renameSync(join(dir, "other.so"), path);
    expect(await run(lib.dlopen(path, "int add(int a, int b)", [2, 2]))).toBe(4);
  });
});

describe("integer arguments that koffi would wrap are refused", () => {
  it("names the argument, the symbol and the library", async () => {
    const int = await failure(lib.dlopen(fx.library, "int add(int a, int b)", [1, 1e20]));
    expect(int.message).toBe(
      `lib.dlopen(${fx.library}, "int add(int a, int b)"): argument 2 (b) is an int (Int32) but got a number (100000000000000000000): ` +
        "it is out of range and koffi would silently pass another value. Pass a value from -2147483648 to 2147483647.",
    );
    const u8 = await failure(lib.dlopen(fx.library, "uint8_t id_u8(uint8_t)", [300]));
    expect(u8.message).toContain(`"uint8_t id_u8(uint8_t)"): argument 1 is a uint8_t (UInt8) but got a number (300)`);
    const i64 = await failure(lib.dlopen(fx.library, { name: "id_i64", result: "int64_t", parameters: ["int64_t"] }, [2n ** 70n]));
    expect(i64.message).toContain(`lib.dlopen(${fx.library}, "int64_t id_i64(int64_t)"): argument 1 is an int64_t (Int64) but got a bigint (${2n ** 70n})`);
    expect(i64.message).toContain("(a BigInt beyond 2^53)");
    const i64number = await failure(lib.dlopen(fx.library, "int64_t id_i64(int64_t v)", [2 ** 70]));
    expect(i64number.message).toContain("argument 1 (v) is an int64_t (Int64)");
    for (const bad of [NaN, Infinity, -1]) {
      const error = await failure(lib.dlopen(fx.library, "uint32_t id_u32(uint32_t v)", [bad]));
      expect(error.message).toContain("out of range");
    }
  });

  it("in variadic calls too", async () => {
    const error = await failure(lib.dlopen("libc.so.6", "int snprintf(char *buf, size_t n, const char *fmt, ...)", [null, 0, "%d", "int", 2 ** 40]));
    expect(error.message).toContain("argument 5 is an int (Int32) but got a number (1099511627776)");
  });

  it("accepts exactly the values that survive the trip through C (property)", () => {
    const types = [
      ["int8_t", -(2n ** 7n), 2n ** 7n - 1n],
      ["uint8_t", 0n, 2n ** 8n - 1n],
      ["int32_t", -(2n ** 31n), 2n ** 31n - 1n],
      ["uint32_t", 0n, 2n ** 32n - 1n],
      ["int64_t", -(2n ** 63n), 2n ** 63n - 1n],
      ["uint64_t", 0n, 2n ** 64n - 1n],
    ] as const;
    const short = { int8_t: "i8", uint8_t: "u8", int32_t: "i32", uint32_t: "u32", int64_t: "i64", uint64_t: "u64" } as const;
    const value = fc.oneof(
      fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }),
      fc.constantFrom(...types.flatMap(([, min, max]) => [min - 1n, min, max, max + 1n])),
    );
    fc.assert(
      fc.property(fc.constantFrom(...types), value, fc.boolean(), ([type, min, max], big, asNumber) => {
        const passed = asNumber ? Number(big) : big;
        const exact = asNumber ? BigInt(Number(big)) : big; // the value the number really holds
        // koffi reads numbers through int64: a uint64_t from 2^63 on takes a BigInt.
        const inRange = exact >= min && exact <= max && !(asNumber && exact >= 2n ** 63n);
        const io = lib.dlopen(fx.library, `${type} id_${short[type]}(${type} v)`, [passed]);
        const outcome = unsafePerformIO(lib.attempt(io));
        if (!inRange) return outcome._tag === "Left" && /out of range/.test(outcome.left.message);
        return outcome._tag === "Right" && BigInt(outcome.right as number | bigint) === exact;
      }),
      { numRuns: 600 },
    );
  });

  it("reads parameter names from prototypes only where they are given", () => {
    expect(parameterNames("int add(int a, int b)", 2)).toEqual(["a", "b"]);
    expect(parameterNames("int add(int, int)", 2)).toEqual([undefined, undefined]);
    expect(parameterNames("size_t f(const char *s, unsigned long long, const size_t, struct foo *p, unsigned n)", 5)).toEqual([
      "s",
      undefined,
      undefined,
      "p",
      "n",
    ]);
    expect(parameterNames("int f(void)", 0)).toEqual([]);
    expect(parameterNames("void q(void (*cb)(int), int x)", 2)).toEqual([]);
  });
});

describe("synchronous use", () => {
  it("works inside unsafePerformIO for a path and for a built derivation", async () => {
    expect(unsafePerformIO(lib.dlopen(fx.library, "int add(int, int)", [20, 22]))).toBe(42);
    const drv = lib.runCommand("libsync.so", { library: fx.library }, 'cp "$library" "$out"');
    await run(lib.build(drv));
    expect(unsafePerformIO(lib.dlopen(drv, "int add(int, int)", [1, 1]))).toBe(2);
  });

  it("refuses an unbuilt derivation inside unsafePerformIO, naming the build", () => {
    const drv = lib.runCommand("libunbuilt.so", { library: fx.library }, 'cp "$library" "$out"');
    expect(() => unsafePerformIO(lib.dlopen(drv, "int add(int, int)", [1, 1]))).toThrow(
      new RegExp(`unsafePerformIO cannot run asynchronous work: it reached building ${drv.storeName}`),
    );
  });

  it("builds a derivation before loading it", async () => {
    const drv = lib.runCommand("libbuilt-first.so", { library: fx.library }, 'cp "$library" "$out"');
    expect(await run(lib.dlopen(drv, "int add(int, int)", [2, 3]))).toBe(5);
  });
});

describe("native argv globals", () => {
  it("are 0 and NULL outside the tsexec command line", async () => {
    expect(await run(lib.dlopen(fx.argv, "int argv_count(void)", []))).toBe(0);
    expect(await run(lib.dlopen(fx.argv, "int argv_is_null(void)", []))).toBe(1);
  });
});
