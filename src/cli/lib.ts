/**
 * `lib`: what a script receives beside `args`. The IO constructors come from
 * src/monad, the primitives from src/builtins; nothing heavy is loaded until a
 * primitive is used: dlopen, the derivation functions, fetchgit, reexec and
 * import are entry points that load their module on first call (./on-first-use.ts).
 */
import { attempt, bind, bracket, defer, ensuring, io, join, map, mapM, task, uninterruptible, unit, type IO } from "../monad/io.js";
import { all, allSettled, exit, mapPar, race, sleep, timeout } from "../runtime/concurrency.js";
import type { exec } from "../builtins/exec/index.js";
import { makeDollar, makeExec, type Dollar } from "../builtins/exec/template.js";
import { unsafePerformIO } from "../builtins/unsafe-perform-io/index.js";
import type { FetchgitArgs } from "../builtins/fetchgit/index.js";
import type { ImportBase } from "../builtins/import/index.js";
import type { HasOutPath } from "../builtins/reexec/index.js";
import { getConfiguration, type Configuration } from "../base/package.js";
import type { Dlopen } from "../builtins/dlopen/index.js";
import type { build, derivation, runCommand, toFile, Derivation } from "../builtins/derivation/index.js";
import { loadDerivation, loadDlopen, loadFetchgit, loadImport, loadPipeline, loadReexec } from "./on-first-use.js";

export interface Builtins {
  /** Run an IO from pure code and return its value (synchronous work only). */
  readonly unsafePerformIO: typeof unsafePerformIO;
  /** nix-exec's spelling of `unsafePerformIO`. */
  readonly "unsafe-perform-io": typeof unsafePerformIO;
  /**
   * Check a git revision out into the cache; yields the path of a read-only checkout
   * (no .git). `rev`: a full commit hash (pinned), an abbreviated hash, a tag or a branch.
   */
  readonly fetchgit: (args: FetchgitArgs) => IO<string>;
  /**
   * Re-execute tsexec from `path` (a launcher, or a derivation's output) unless this
   * process already runs from it, in which case yield null.
   */
  readonly reexec: (path: string | Derivation | HasOutPath) => IO<null>;
}

export interface Lib {
  readonly unit: typeof unit;
  readonly map: typeof map;
  readonly join: typeof join;
  readonly bind: typeof bind;
  readonly mapM: typeof mapM;
  readonly io: typeof io;
  readonly task: typeof task;
  /** Run an IO; yield Right(value) or Left(error). Interruption and lib.exit are not caught. */
  readonly attempt: typeof attempt;
  readonly defer: typeof defer;
  /** `bracket(acquire, use, release)`: release runs once, after success, failure or interruption. */
  readonly bracket: typeof bracket;
  /** `ensuring(io, finalizer)`: the finalizer runs once, after success, failure or interruption. */
  readonly ensuring: typeof ensuring;
  /** Run an IO with interruption held off until it ends. */
  readonly uninterruptible: typeof uninterruptible;
  /** `all(ios, { concurrency })`: in parallel, results in order; a failure interrupts the others. */
  readonly all: typeof all;
  /** `allSettled(ios)`: in parallel; yields every outcome as an Either. */
  readonly allSettled: typeof allSettled;
  /** `mapPar(f, list, { concurrency })`: `f` on each element, in parallel, results in order. */
  readonly mapPar: typeof mapPar;
  /** `race(ios)`: the first to finish wins; the others are interrupted. */
  readonly race: typeof race;
  /** `timeout(ms, io)`: fails naming the step and the limit if `io` takes longer (after interrupting it). */
  readonly timeout: typeof timeout;
  /** `sleep(ms)`. */
  readonly sleep: typeof sleep;
  /** `exit(code)`: end the program with `code` after the running finalizers have run. */
  readonly exit: typeof exit;
  /** `exec(file, args, options)`: run a program (no shell); yields { stdout, stderr, exitCode, signal }. */
  readonly exec: typeof exec;
  /** `` $`cmd ${arg}` ``: exec as a tagged template; each interpolation is one argument. */
  readonly $: Dollar;
  /**
   * `dlopen(filename, symbol, args)`: calls native code. `filename` is a path (relative to the
   * script), a library name ("libm.so.6") or a derivation (built first). `symbol` is a C prototype
   * ("double cos(double)") or `{ name, result, parameters }` for a C function called through koffi,
   * or a bare name for an export of a Node-API module, called with `args` as JS values.
   */
  readonly dlopen: Dlopen;
  /** `toFile(name, text)`: a derivation whose output is a file holding `text`. */
  readonly toFile: typeof toFile;
  /** `runCommand(name, env, script)`: a derivation built by `sh -e -c script` with `$out` set. */
  readonly runCommand: typeof runCommand;
  /** `derivation({ name, builder, args, env })`: the general form of a build. */
  readonly derivation: typeof derivation;
  /** `build(drv)`: builds `drv` unless it is built; yields its output path. */
  readonly build: typeof build;
  readonly builtins: Builtins;
  readonly configuration: Configuration;
  /**
   * Load a TypeScript/JavaScript module (a file, or a directory's default.ts/index.ts)
   * with the script loader; yields its default export, or its namespace without one.
   * `import(inputs.tools, "lib.ts")`: a module inside an input's checkout, which it may not leave.
   */
  readonly import: (path: ImportBase, inside?: string) => IO<unknown>;
}

export interface LibBase {
  /** The directory relative paths given to primitives resolve against (the script's). */
  readonly dir: string;
}

export function makeLib(base: LibBase): Lib {
  const builtins: Builtins = {
    unsafePerformIO,
    "unsafe-perform-io": unsafePerformIO,
    fetchgit: onFirstCall(() => loadFetchgit().makeFetchgit(base.dir)),
    reexec: onFirstCall(() => loadReexec().makeReexec(base.dir)),
  };
  let dlopen: Dlopen | undefined;
  const lib = {
    unit,
    map,
    join,
    bind,
    mapM,
    io,
    task,
    attempt,
    defer,
    bracket,
    ensuring,
    uninterruptible,
    all,
    allSettled,
    mapPar,
    race,
    timeout,
    sleep,
    exit,
    exec: makeExec(loadPipeline),
    $: makeDollar(loadPipeline),
    // Three arguments spelled out (no rest array): a script may build a dlopen IO per call.
    dlopen: ((filename, symbol, args) => (dlopen ??= loadDlopen().makeDlopen(base.dir))(filename, symbol, args)) as Dlopen,
    toFile: (name, text) => loadDerivation().toFile(name, text),
    runCommand: (name, env, script) => loadDerivation().runCommand(name, env, script),
    derivation: (spec) => loadDerivation().derivation(spec),
    build: (drv) => loadDerivation().build(drv),
    builtins: Object.freeze(builtins),
    import: onFirstCall(() => loadImport().makeImport(base.dir)),
  } satisfies Omit<Lib, "configuration">;
  // A getter written in the object literal puts the object in V8's dictionary mode (every
  // lib.bind would be a hash lookup: half the speed of a script's loop); one defined after the
  // literal keeps its fast properties. The test in test/core/lib-fast.test.ts keeps it so.
  Object.defineProperty(lib, "configuration", { get: getConfiguration, enumerable: true, configurable: true });
  return Object.freeze(lib) as Lib;
}

/** `f`, made on its first call (loading its module then), for a one- or two-argument primitive. */
function onFirstCall<A, B, R>(make: () => (a: A, b?: B) => R): (a: A, b?: B) => R {
  let f: ((a: A, b?: B) => R) | undefined;
  return (a, b) => (f ??= make())(a, b);
}
