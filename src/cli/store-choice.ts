/**
 * `--store STORE` (or TSEXEC_STORE): `tsexec`, its own store (the default), or
 * `nix`, where derivations become Nix derivations. Imported only when either is
 * given, so a plain run loads none of it.
 */
import type { PrimitiveContext } from "../monad/io.js";
import { UsageError } from "./options.js";

export async function chooseStore(store: string | true, ctx: PrimitiveContext): Promise<void> {
  if (store === "nix") (await import("../builtins/derivation/nix/index.js")).useNixStore(ctx);
  else if (store !== "tsexec") throw new UsageError(`--store (or TSEXEC_STORE) must be 'tsexec' (the default) or 'nix', got '${String(store)}'`);
}
