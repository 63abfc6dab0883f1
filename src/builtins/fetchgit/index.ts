/**
 * `lib.builtins.fetchgit({ url, rev, fetchSubmodules = true, cacheDir, hash })`:
 * yields the path of a read-only checkout of `rev` (see docs/git.md).
 *
 * This front stays light (no simple-git): a pinned commit that is already
 * checked out is found with one stat, synchronously, without spawning git.
 * Anything else goes through checkout.ts, loaded on demand.
 */
import { asyncStep, primitive, unit, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { normalizeHash } from "./hash.js";
import { lookupCached, type FetchRequest, type FetchResult } from "./request.js";
import { normalizeUrl, validateRev } from "./url.js";

export { lookupCached, type FetchRequest, type FetchResult } from "./request.js";

export interface FetchgitArgs {
  /** https, http, ssh, git or file URL, `user@host:path`, or a local path (relative to the script). */
  readonly url: string;
  /** A full commit hash (pinned), an abbreviated hash, a tag or a branch; the default branch when omitted. */
  readonly rev?: string;
  /** Check submodules out too, recursively (default true). */
  readonly fetchSubmodules?: boolean;
  /** The cache directory (default: tsexec's); checkouts go under `<cacheDir>/git/`. */
  readonly cacheDir?: string;
  /** nix-exec's spelling of `cacheDir`. */
  readonly "cache-dir"?: string;
  /** `sha256-<base64>` (or 64 hex digits) of the checkout's content, as docs/git.md defines it. */
  readonly hash?: string;
}

const defaultTimeoutSeconds = 120;

/** git's stall timeout: `TSEXEC_GIT_TIMEOUT` seconds, else two minutes. */
export function gitTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env.TSEXEC_GIT_TIMEOUT);
  return (seconds > 0 ? seconds : defaultTimeoutSeconds) * 1000;
}

/** Builds a validated request from fetchgit's argument; relative paths resolve against `dir`. */
export function makeRequest(args: FetchgitArgs, dir: string, ctx: PrimitiveContext, maxRefAge = 0): FetchRequest {
  if (typeof args !== "object" || args === null) {
    throw new TsexecError(`lib.builtins.fetchgit expects an object { url, rev, fetchSubmodules?, cacheDir?, hash? }, got ${describeValue(args)}`);
  }
  const url = normalizeUrl(args.url, dir);
  const rev = validateRev(args.rev ?? "HEAD", url);
  const cacheDir = args.cacheDir ?? args["cache-dir"] ?? ctx.cacheDir;
  if (typeof cacheDir !== "string") throw new TsexecError(`fetchgit: 'cacheDir' for ${url} must be a string`);
  if (args.fetchSubmodules !== undefined && typeof args.fetchSubmodules !== "boolean") {
    throw new TsexecError(`fetchgit: 'fetchSubmodules' for ${url} must be true or false`);
  }
  return {
    url,
    rev,
    fetchSubmodules: args.fetchSubmodules ?? true,
    cacheDir,
    hash: args.hash === undefined ? undefined : normalizeHash(args.hash, url),
    offline: ctx.options.offline === true,
    maxRefAge,
    timeoutMs: gitTimeoutMs(),
    verbose: ctx.verbose,
    log: (line) => ctx.log(line),
    askedAt: Date.now(),
  };
}

/** Answers `request` from the cache, or fetches. */
export async function fetchgitPath(request: FetchRequest): Promise<FetchResult> {
  return lookupCached(request) ?? fetchUncached(request);
}

/** Fetches what the cache did not answer (git support is loaded on demand). */
async function fetchUncached(request: FetchRequest): Promise<FetchResult> {
  const { fetchCheckout } = await import("./checkout.js");
  return fetchCheckout(request);
}

/** The one warning line for a rev that is not a full commit hash. */
export function unpinnedWarning(request: FetchRequest, commit: string): string {
  return `warning: fetchgit: '${request.rev}' of ${request.url} is not pinned; it resolved to commit ${commit} (use rev: "${commit}" to pin it)`;
}

/** `lib.builtins.fetchgit` for a script in `dir`. */
export function makeFetchgit(dir: string): (args: FetchgitArgs) => IO<string> {
  return function fetchgit(args: FetchgitArgs): IO<string> {
    const label = `fetchgit ${typeof args?.url === "string" ? args.url : "?"} ${args?.rev ?? "HEAD"}`;
    return primitive(label, (ctx) => {
      const request = makeRequest(args, dir, ctx);
      const cached = lookupCached(request);
      if (cached) {
        if (!cached.pinned) ctx.log(unpinnedWarning(request, cached.commit));
        return unit(cached.path);
      }
      return asyncStep(`lib.builtins.fetchgit(${request.url} ${request.rev})`, async () => {
        const result = await fetchUncached(request); // the cache was just asked, above
        if (!result.pinned) ctx.log(unpinnedWarning(request, result.commit));
        return result.path;
      });
    });
  };
}
