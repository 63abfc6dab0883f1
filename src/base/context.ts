/**
 * The runtime context: what primitives read when they run (cache directory,
 * verbosity, options later issues add). The CLI makes one from its flags;
 * `tsexec/unsafe-lib` and `run()` make one from the environment.
 */
import { writeSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { PrimitiveContext } from "../monad/io.js";

export interface ContextOptions {
  cacheDir?: string | undefined;
  verbose?: boolean | undefined;
  /** Further options primitives read by name (offline, pinnedOnly, argv ...). */
  options?: Record<string, unknown>;
}

/** `$TSEXEC_CACHE_DIR`, else `$XDG_CACHE_HOME/tsexec`, else `~/.cache/tsexec`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSEXEC_CACHE_DIR) return env.TSEXEC_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "tsexec");
  // $HOME is what os.homedir() returns on POSIX when it is set; reading it spares loading node:os.
  return join(env.HOME || homedir(), ".cache", "tsexec");
}

export function makeContext(opts: ContextOptions = {}): PrimitiveContext {
  return {
    cacheDir: resolve(opts.cacheDir ?? defaultCacheDir()),
    verbose: opts.verbose ?? false,
    synchronous: false,
    log: (line: string) => writeStderr(`tsexec: ${line}\n`),
    options: opts.options ?? {},
  };
}

let stderrStream = false;

/**
 * Writes tsexec's own line to stderr with a plain write(2): creating `process.stderr`
 * loads Node's stream machinery (tty or net), a few milliseconds of a run whose only
 * output is one warning (a moving reference, resolved within the hour). A write
 * that cannot complete at once (a full non-blocking pipe) or fails hands the rest
 * to `process.stderr`, which then carries every later line, so they stay in order.
 */
function writeStderr(text: string): void {
  let bytes = Buffer.from(text);
  if (!stderrStream) {
    try {
      while (bytes.length > 0) bytes = bytes.subarray(writeSync(2, bytes));
      return;
    } catch {
      stderrStream = true;
    }
  }
  process.stderr.write(bytes);
}

/**
 * The context of the program tsexec is running: `unsafePerformIO`, called from
 * pure code, runs its IO with it. Outside tsexec it comes from the environment.
 */
let ambient: PrimitiveContext | undefined;

export function setAmbientContext(ctx: PrimitiveContext): void {
  ambient = ctx;
}

export function ambientContext(): PrimitiveContext {
  return (ambient ??= makeContext());
}
