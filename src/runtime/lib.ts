/**
 * `lib`: what a script receives beside `args`. The IO constructors come from
 * src/monad, the primitives from src/builtins; nothing heavy is loaded until a
 * primitive runs.
 */
import { attempt, bind, defer, io, join, map, mapM, task, unit } from "../monad/io.js";
import { unsafePerformIO } from "../builtins/unsafe-perform-io.js";
import { getConfiguration, type Configuration } from "./package.js";

export interface Builtins {
  /** Run an IO from pure code and return its value (synchronous work only). */
  readonly unsafePerformIO: typeof unsafePerformIO;
  /** nix-exec's spelling of `unsafePerformIO`. */
  readonly "unsafe-perform-io": typeof unsafePerformIO;
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
  readonly builtins: Builtins;
  readonly configuration: Configuration;
}

export interface LibBase {
  /** The directory relative paths given to primitives resolve against (the script's). */
  readonly dir: string;
}

export function makeLib(base: LibBase): Lib {
  void base;
  const builtins: Builtins = { unsafePerformIO, "unsafe-perform-io": unsafePerformIO };
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
    builtins: Object.freeze(builtins),
    get configuration() {
      return getConfiguration();
    },
  });
}
