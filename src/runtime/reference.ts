/**
 * Git references to scripts: `tsexec <ref>#<script>`, as `nix run` takes
 * flake references.
 *
 *     git+https://host/path/repo.git?rev=<full hash>#path/to/script.ts
 *     git+http://…  git+ssh://…  git+file:///abs/path?ref=<branch-or-tag>#…
 *     github:<owner>/<repo>[/<rev-or-ref>][?dir=…]#<path>   (git+https://github.com/<owner>/<repo>.git)
 *
 * `?dir=<sub>` makes the script path relative to a subdirectory; without
 * `#<path>` the script is that directory's default.ts (then index.ts).
 * A reference resolves to a file in fetchgit's read-only checkout. Moving
 * refs (branches, tags, none) are re-resolved at most once an hour, or now
 * with --refresh; the time of the last resolution is kept in
 * `<cache>/git/<sha256(url)>/refs.json` (see src/builtins/fetchgit/cache.ts).
 */
import { realpathSync, statSync } from "node:fs";
import { isAbsolute, join, normalize, sep } from "node:path";
import type { PrimitiveContext } from "../monad/io.js";
import { fetchgitPath, makeRequest } from "../builtins/fetchgit/index.js";
import { isFullHash } from "../builtins/fetchgit/url.js";
import { TsexecError } from "./errors.js";
import { directoryEntry } from "./loader/resolve.js";
import { appScript } from "./apps.js";

/** How long a resolved branch or tag is trusted before asking the remote again. */
export const refTtlMs = 60 * 60 * 1000;

export interface Reference {
  /** As typed on the command line. */
  readonly typed: string;
  /** The repository URL given to fetchgit. */
  readonly url: string;
  /** A full commit hash: the reference is pinned. */
  readonly rev: string | undefined;
  /** A branch or tag (used when there is no rev). */
  readonly ref: string | undefined;
  /** Subdirectory script paths are relative to ("" for the checkout's root). */
  readonly dir: string;
  /** The script's path inside `dir`, if given. */
  readonly path: string | undefined;
  /** The same reference pinned to `commit`. */
  pinnedTo(commit: string): string;
  /** When `typed` is a registry name: the reference it expanded to (src/runtime/registry.ts). */
  readonly registry?: string;
}

const forms = "use git+https://…, git+http://…, git+ssh://…, git+file:///… or github:<owner>/<repo>[/<ref>]";

export function parseReference(typed: string): Reference {
  if (typed.startsWith("github:")) return parseGithub(typed);
  const m = /^git\+(https|http|ssh|file):\/\//.exec(typed);
  if (!m) throw new TsexecError(`unknown reference form '${typed}': ${forms} (a local file with ':' in its name: ./${typed})`);
  let parsed: URL;
  try {
    parsed = new URL(typed.slice("git+".length));
  } catch {
    throw new TsexecError(`'${typed}' is not a valid URL: ${forms}`);
  }
  const userinfo = parsed.username ? `${parsed.username}${parsed.password ? `:${parsed.password}` : ""}@` : "";
  const url = `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}`;
  const params = queryParameters(typed, parsed.searchParams);
  const path = fragment(parsed.hash);
  const rebuild = (commit: string) => {
    const query = new URLSearchParams();
    if (params.dir) query.set("dir", params.dir);
    query.set("rev", commit);
    return `git+${url}?${query.toString()}${path === undefined ? "" : `#${path}`}`;
  };
  return { typed, url, rev: params.rev, ref: params.ref, dir: params.dir ?? "", path, pinnedTo: rebuild };
}

function parseGithub(typed: string): Reference {
  const hashAt = typed.indexOf("#");
  const beforeFragment = hashAt < 0 ? typed : typed.slice(0, hashAt);
  const path = hashAt < 0 ? undefined : fragment(typed.slice(hashAt));
  const queryAt = beforeFragment.indexOf("?");
  const address = (queryAt < 0 ? beforeFragment : beforeFragment.slice(0, queryAt)).slice("github:".length);
  const params = queryParameters(typed, new URLSearchParams(queryAt < 0 ? "" : beforeFragment.slice(queryAt + 1)));
  const [owner, repo, ...refParts] = address.split("/");
  const name = /^[A-Za-z0-9_.-]+$/;
  if (!owner || !repo || !name.test(owner) || !name.test(repo)) {
    throw new TsexecError(`'${typed}' is not a github reference: write github:<owner>/<repo>[/<rev-or-ref>][#<path>]`);
  }
  const third = refParts.length ? refParts.join("/") : undefined;
  const rev = params.rev ?? (third !== undefined && isFullHash(third) ? third : undefined);
  const ref = params.ref ?? (third !== undefined && !isFullHash(third) ? third : undefined);
  const url = `https://github.com/${owner}/${repo}.git`;
  const pinnedTo = (commit: string) =>
    `github:${owner}/${repo}/${commit}${params.dir ? `?dir=${encodeURIComponent(params.dir)}` : ""}${path === undefined ? "" : `#${path}`}`;
  return { typed, url, rev, ref, dir: params.dir ?? "", path, pinnedTo };
}

function queryParameters(typed: string, query: URLSearchParams): { rev?: string; ref?: string; dir?: string } {
  const out: { rev?: string; ref?: string; dir?: string } = {};
  for (const [key, value] of query) {
    if (key !== "rev" && key !== "ref" && key !== "dir") {
      throw new TsexecError(`unknown parameter '${key}' in reference '${typed}' (known: rev, ref, dir)`);
    }
    out[key] = value;
  }
  if (out.rev !== undefined && !isFullHash(out.rev)) {
    throw new TsexecError(`'rev=${out.rev}' in reference '${typed}' is not a full commit hash; use ref=${out.rev} for a branch or tag`);
  }
  return out;
}

function fragment(hash: string): string | undefined {
  const text = hash.startsWith("#") ? hash.slice(1) : hash;
  return text === "" ? undefined : decodeURIComponent(text);
}

export interface ResolvedReference {
  readonly reference: Reference;
  /** The read-only checkout and the commit it holds. */
  readonly checkout: string;
  readonly commit: string;
  /** `checkout/dir`: where script paths start. */
  readonly root: string;
}

/**
 * Fetches (or finds in the cache) the checkout a reference names. Unpinned
 * references print one warning line naming the commit and the pinned form;
 * --pinned-only refuses them before any network access.
 */
export async function checkoutReference(reference: Reference, ctx: PrimitiveContext): Promise<ResolvedReference> {
  if (reference.rev === undefined && ctx.options["pinned-only"] === true) {
    throw new TsexecError(
      `refusing unpinned reference '${reference.typed}' (--pinned-only or TSEXEC_PINNED_ONLY): pin it to a full commit hash, as in ${reference.pinnedTo("<commit>")}`,
    );
  }
  const rev = reference.rev ?? reference.ref ?? "HEAD";
  const request = makeRequest({ url: reference.url, rev }, process.cwd(), ctx, ctx.options.refresh === true ? 0 : refTtlMs);
  const result = await fetchgitPath(request);
  if (!result.pinned) {
    const via = reference.registry === undefined ? "" : ` (registry: ${reference.registry})`;
    ctx.log(`warning: '${reference.typed}'${via} is not pinned: it resolved to commit ${result.commit}; to run exactly this, use ${reference.pinnedTo(result.commit)}`);
  }
  const root = reference.dir ? inside(result.path, reference.dir, reference, "dir") : result.path;
  return { reference, checkout: result.path, commit: result.commit, root };
}

/** The script file a reference names, inside its checkout (symlinks may not lead out of it). */
export function referenceScript(resolved: ResolvedReference): string {
  const { reference, checkout, root, commit } = resolved;
  const where = `${reference.url} at ${commit}`;
  // A name (`#deploy`) or no fragment: the package.json `bin` may say which script (apps.ts).
  const app = appScript(root, checkout, reference.path, `reference '${reference.typed}' (${where})`);
  if (app !== undefined) return app;
  let target = reference.path === undefined ? root : inside(root, reference.path, reference, "path");
  let stat;
  try {
    stat = statSync(target);
  } catch {
    throw new TsexecError(`reference '${reference.typed}': no file '${join(reference.dir, reference.path ?? "")}' in ${where}`);
  }
  if (stat.isDirectory()) {
    const entry = directoryEntry(target);
    if (entry === undefined) {
      const named = reference.path === undefined ? "names no script and" : `names a directory that`;
      throw new TsexecError(
        `reference '${reference.typed}' ${named} has neither default.ts nor index.ts in ${reference.dir || "the root of"} ${where}: add #<path/to/script.ts>`,
      );
    }
    target = entry;
  }
  const real = realpathSync(target);
  const realCheckout = realpathSync(checkout);
  if (!real.startsWith(realCheckout + sep)) {
    throw new TsexecError(`reference '${reference.typed}': '${reference.path ?? "the default script"}' escapes the checkout (a symlink to ${real})`);
  }
  return real;
}

/** `base/relative`, refusing absolute paths and `..` that leave `base`. */
function inside(base: string, relative: string, reference: Reference, what: "dir" | "path"): string {
  const normal = normalize(relative);
  if (isAbsolute(relative) || normal === ".." || normal.startsWith(`..${sep}`)) {
    throw new TsexecError(`reference '${reference.typed}': the ${what} '${relative}' escapes the checkout`);
  }
  return join(base, normal);
}

/** Resolves a reference typed on the command line to the script file to run. */
export async function resolveReferenceScript(typed: string, ctx: PrimitiveContext): Promise<string> {
  return referenceScript(await checkoutReference(parseReference(typed), ctx));
}
