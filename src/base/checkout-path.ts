/**
 * Where fetched checkouts live, by name: `<…>/git/<32 hex>/checkouts/<commit>[-nosub]`
 * (fetchgit's cache puts them there). The loader and `lib.import` both confine
 * what a fetched script reaches to its checkout, so both need to know it.
 *
 * Base helper: node: only.
 */
import { realpathSync } from "node:fs";
import { sep } from "node:path";

const checkoutPath = /^(.*\/git\/[0-9a-f]{32}\/checkouts\/(?:[0-9a-f]{40}|[0-9a-f]{64})(?:-nosub)?)(?:\/|$)/;

/** The fetched checkout `path` lies in (by its name, whatever the cache directory), if any. */
export function checkoutHolding(path: string): string | undefined {
  return checkoutPath.exec(path)?.[1];
}

/**
 * When `importer` lies in a fetched checkout and `file` (once its links are followed)
 * does not, the checkout and where `file` really leads; undefined otherwise. The
 * repository chose its links: none may take its code outside it.
 */
export function escapeFromCheckout(importer: string, file: string): { checkout: string; real: string } | undefined {
  const checkout = checkoutHolding(importer);
  if (checkout === undefined) return undefined;
  let top: string;
  let real: string;
  try {
    top = realpathSync(checkout);
    real = realpathSync(file);
  } catch {
    return undefined; // missing: the import itself says so
  }
  return real === top || real.startsWith(`${top}${sep}`) ? undefined : { checkout, real };
}
