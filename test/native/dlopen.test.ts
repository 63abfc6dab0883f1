/** lib.dlopen in-process: calls, every error it reports, its caches, synchronous use. */
import { beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers.js";

// Every test in this file shares one fresh store: set before tsexec reads it.
process.env.TSEXEC_CACHE_DIR = tempDir("tsexec-native-cache-");

const { run, unsafePerformIO, makeLib } = await import("../../src/index.js");
const { nativeStats } = await import("../../src/builtins/dlopen/ffi.js");
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
    expect(asString.message).toContain(`lib.dlopen(${fx.library}, "int text_length(const char *s)"): argument 1 is a pointer (char *)`);
    expect(asString.message).toContain("a number (12345)");
    const asPointer = await failure(lib.dlopen(fx.library, "int read_counter(const int *p)", [0x1000]));
    expect(asPointer.message).toContain("argument 1 is a pointer (int *)");
    const missing = await failure(lib.dlopen(fx.library, "int text_length(const char *s)", [undefined]));
    expect(missing.message).toContain("argument 1 is a pointer (char *) but got undefined: undefined would be passed as NULL (pass null if NULL is meant)");
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
