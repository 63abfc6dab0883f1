/**
 * `lib`: what a script receives beside `args`. The IO constructors come from
 * src/monad, the primitives from src/builtins; nothing heavy is loaded until a
 * primitive runs.
 */
import { attempt, bind, defer, io, join, map, mapM, task, unit, type IO } from "../monad/io.js";
import { unsafePerformIO } from "../builtins/unsafe-perform-io.js";
import { makeFetchgit, type FetchgitArgs } from "../builtins/fetchgit/index.js";
import { makeImport, type ImportBase } from "../builtins/import.js";
import { makeReexec, type HasOutPath } from "../builtins/reexec.js";
import { getConfiguration, type Configuration } from "./package.js";
import { makeDlopen, type Dlopen } from "../builtins/dlopen/index.js";
import { build, derivation, runCommand, toFile, type Derivation } from "../builtins/derivation/index.js";

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
  readonly attempt: typeof attempt;
  readonly defer: typeof defer;
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
    fetchgit: makeFetchgit(base.dir),
    reexec: makeReexec(base.dir),
  };
  return Object.freeze({
    unit,
    map,
    join,
    bind,
    mapM,
    io,
    task,
    attempt,
    defer,
    dlopen: makeDlopen(base.dir),
    toFile,
    runCommand,
    derivation,
    build,
    builtins: Object.freeze(builtins),
    import: makeImport(base.dir),
    get configuration() {
      return getConfiguration();
    },
  });
}
