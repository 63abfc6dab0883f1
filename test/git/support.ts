/** In-process helpers: run lib.builtins.fetchgit with a context whose log lines are collected. */
import type { PrimitiveContext } from "../../src/monad/io.js";
import { run } from "../../src/runtime/interpreter.js";
import { makeLib } from "../../src/cli/lib.js";
import type { FetchgitArgs } from "../../src/builtins/fetchgit/index.js";
import { tempDir } from "../helpers.js";

export interface Session {
  readonly cacheDir: string;
  readonly logs: string[];
  readonly ctx: PrimitiveContext;
  fetch(args: FetchgitArgs): Promise<string>;
}

export function session(options: Record<string, unknown> = {}, cacheDir: string = tempDir("fetchgit-cache-")): Session {
  const logs: string[] = [];
  const ctx: PrimitiveContext = {
    cacheDir,
    verbose: options.verbose === true,
    synchronous: false,
    log: (line) => logs.push(line),
    options,
  };
  const lib = makeLib({ dir: tempDir("script-dir-") });
  return { cacheDir, logs, ctx, fetch: (args) => run(lib.builtins.fetchgit(args), ctx) };
}

/** Resolves once `condition()` holds, polling (tests wait for states, never for fixed times). */
export async function until(condition: () => boolean, timeoutMs = 8_000, what = "the condition"): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
