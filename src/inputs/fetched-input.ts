/**
 * The `Input` value a script receives. A module of its own: a warm run with
 * remembered inputs (src/inputs/memo.ts) makes these without loading
 * the declaration parser in ./inputs.ts.
 */
import type { Input } from "../runtime/loader/inputs-declaration.js";

/** An input as the script receives it: frozen; `${input}` is its path, as a derivation's output is. */
export class FetchedInput implements Input {
  constructor(
    readonly path: string,
    readonly rev: string,
    readonly ref: string | undefined,
    readonly url: string,
    readonly hash: string,
  ) {
    Object.freeze(this);
  }
  toString(): string {
    return this.path;
  }
}
