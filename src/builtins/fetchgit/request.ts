/** What a fetch is asked for, and checks shared by the fast path (index.ts) and the slow one (checkout.ts). */
import { TsexecError } from "../../base/errors.js";
import { writeFileAtomic } from "../../base/files.js";
import { findCheckout, readMetadata, readResolutions, repositoryPaths, type RepositoryPaths } from "./cache.js";
import { contentHash } from "./hash.js";
import { isFullHash } from "./url.js";

export interface FetchRequest {
  /** Validated and canonical (normalizeUrl). */
  readonly url: string;
  /** Validated (validateRev); `HEAD` for the default branch. */
  readonly rev: string;
  readonly fetchSubmodules: boolean;
  readonly cacheDir: string;
  /** `sha256-<base64>` the checkout must hash to (hash.ts), if given. */
  readonly hash: string | undefined;
  /** Answer from the cache only. */
  readonly offline: boolean;
  /**
   * How old a recorded resolution of a branch or tag may be and still be used
   * without asking the remote (ms). 0: always ask (lib.builtins.fetchgit);
   * references use an hour unless --refresh.
   */
  readonly maxRefAge: number;
  readonly timeoutMs: number;
  readonly verbose: boolean;
  readonly log: (line: string) => void;
  /**
   * When the caller asked (ms since the epoch): a resolution of the rev
   * recorded at or after it (by a process holding the lock meanwhile) is as
   * fresh as fetching again.
   */
  readonly askedAt: number;
  /** `<url> at <commit>` of each superproject being assembled around this (submodule) fetch, outermost first. */
  readonly parents?: readonly string[];
}

export interface FetchResult {
  /** The read-only checkout. */
  readonly path: string;
  /** The full commit it holds. */
  readonly commit: string;
  /** True when the rev asked for was a full commit hash. */
  readonly pinned: boolean;
}

/** Checks an existing checkout against the requested hash (from its metadata, else by hashing it once). */
export function verifyHash(checkout: string, request: FetchRequest): string {
  if (request.hash === undefined) return checkout;
  let actual = readMetadata(checkout, request.log)?.contentHash;
  if (actual === undefined) {
    actual = contentHash(checkout);
    writeFileAtomic(`${checkout}.json`, JSON.stringify({ contentHash: actual }));
  }
  if (actual !== request.hash) {
    throw new TsexecError(`fetchgit: hash mismatch for ${request.url} at ${request.rev}: expected ${request.hash}, got ${actual}`);
  }
  return checkout;
}

export function offlineError(request: FetchRequest, paths: RepositoryPaths): never {
  throw new TsexecError(
    `fetchgit: offline (--offline or TSEXEC_OFFLINE): '${request.rev}' of ${request.url} is not in the cache (${paths.root}); ` +
      `run once without --offline to fetch it`,
  );
}

/**
 * The checkout if the cache already answers `request` without git: a pinned
 * commit checked out, or a moving rev resolved recently enough (or at all, offline).
 */
export function lookupCached(request: FetchRequest): FetchResult | undefined {
  const paths = repositoryPaths(request.cacheDir, request.url);
  if (isFullHash(request.rev)) {
    const path = findCheckout(paths, request.rev, request.fetchSubmodules);
    return path === undefined ? undefined : { path: verifyHash(path, request), commit: request.rev, pinned: true };
  }
  if (request.maxRefAge <= 0 && !request.offline) return undefined;
  const known = readResolutions(paths, request.log)[request.rev];
  if (known === undefined || (!request.offline && Date.now() - known.resolvedAt >= request.maxRefAge)) return undefined;
  const path = findCheckout(paths, known.commit, request.fetchSubmodules);
  return path === undefined ? undefined : { path: verifyHash(path, request), commit: known.commit, pinned: false };
}
