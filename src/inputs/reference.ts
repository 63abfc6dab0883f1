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
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import type { PrimitiveContext } from "../monad/io.js";
import { fetchgitPath, makeRequest } from "../builtins/fetchgit/index.js";
import { isFullHash, printable } from "../builtins/fetchgit/url.js";
import { TsexecError } from "../base/errors.js";
import { directoryEntry } from "../runtime/loader/resolve.js";
import { appEntry, type AppEntry } from "./apps.js";

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
  /** When `typed` is a registry name: the reference it expanded to (src/inputs/registry.ts). */
  readonly registry?: string;
}

const forms = "use git+https://…, git+http://…, git+ssh://…, git+file:///… or github:<owner>/<repo>[/<ref>]";

export function parseReference(typed: string): Reference {
  if (typed.startsWith("github:")) return parseGithub(typed);
  const m = /^git\+(https|http|ssh|file):\/\//i.exec(typed);
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
  const path = fragment(parsed.hash, typed);
  // The commit as given (a placeholder such as <commit> in a message stays readable); dir escaped as a query value.
  const rebuild = (commit: string) => `git+${url}?${params.dir ? `${new URLSearchParams({ dir: params.dir }).toString()}&` : ""}rev=${commit}${pathFragment(path)}`;
  return { typed, url, rev: params.rev, ref: params.ref, dir: params.dir ?? "", path, pinnedTo: rebuild };
}

function parseGithub(typed: string): Reference {
  const hashAt = typed.indexOf("#");
  const beforeFragment = hashAt < 0 ? typed : typed.slice(0, hashAt);
  const path = hashAt < 0 ? undefined : fragment(typed.slice(hashAt), typed);
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
    `github:${owner}/${repo}/${commit}${params.dir ? `?dir=${encodeURIComponent(params.dir)}` : ""}${pathFragment(path)}`;
  return { typed, url, rev, ref, dir: params.dir ?? "", path, pinnedTo };
}

function queryParameters(typed: string, query: URLSearchParams): { rev?: string; ref?: string; dir?: string } {
  const out: { rev?: string; ref?: string; dir?: string } = {};
  for (const [key, value] of query) {
    if (key !== "rev" && key !== "ref" && key !== "dir") {
      throw new TsexecError(`unknown parameter '${key}' in reference '${typed}' (known: rev, ref, dir)`);
    }
    if (out[key] !== undefined) {
      throw new TsexecError(`reference '${typed}' gives '${key}' twice ('${out[key]}' and '${value}'): keep one`);
    }
    out[key] = value;
  }
  if (out.rev !== undefined && !isFullHash(out.rev)) {
    throw new TsexecError(`'rev=${out.rev}' in reference '${typed}' is not a full commit hash; use ref=${out.rev} for a branch or tag`);
  }
  if (out.rev !== undefined && out.ref !== undefined) {
    throw new TsexecError(`reference '${typed}' gives both rev and ref: rev=<commit> pins it, ref=<branch or tag> follows a name; keep one`);
  }
  return out;
}

/** The script path after '#', percent-decoded. */
function fragment(hash: string, typed: string): string | undefined {
  const text = hash.startsWith("#") ? hash.slice(1) : hash;
  if (text === "") return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TsexecError(`the path '#${text}' in reference '${typed}' has a '%' that starts no valid escape: write a literal % as %25 (as in #100%25.ts)`);
  }
}

/** `#<path>` as fragment() reads it back: '%', spaces and control characters escaped, the rest as typed. */
function pathFragment(path: string | undefined): string {
  return path === undefined ? "" : `#${path.replace(/[%\u0000-\u0020\u007f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)}`;
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
  const checkout = realpathSync(result.path);
  const root = reference.dir ? realInside(checkout, checkout, reference.dir, reference, "dir", result.commit) : checkout;
  return { reference, checkout: result.path, commit: result.commit, root };
}

/** The script file a reference names, inside its checkout (symlinks may not lead out of it, nor anything be read out there). */
export function referenceScript(resolved: ResolvedReference): string {
  return referenceTarget(resolved).file;
}

/** The file a reference names and, when a package.json `bin` named it, the app (its name is what a plain program sees as argv[1]). */
export function referenceTarget(resolved: ResolvedReference): { file: string; app?: AppEntry } {
  const { reference, root, commit } = resolved;
  const where = `${reference.url} at ${commit}`;
  const checkout = realpathSync(resolved.checkout);
  // A name (`#deploy`) or no fragment: the package.json `bin` may say which script (apps.ts).
  const app = appEntry(root, checkout, reference.path, `reference '${printable(reference.typed)}' (${where})`);
  if (app !== undefined) return { file: app.file, app };
  return { file: pathTarget(resolved) };
}

function pathTarget(resolved: ResolvedReference): string {
  const { reference, root, commit } = resolved;
  const where = `${reference.url} at ${commit}`;
  const checkout = realpathSync(resolved.checkout);
  let target = reference.path === undefined ? root : realInside(checkout, root, reference.path, reference, "path", commit);
  if (statSync(target).isDirectory()) {
    const entry = directoryEntry(target);
    if (entry === undefined) {
      const named = reference.path === undefined ? "names no script and" : `names a directory that`;
      throw new TsexecError(
        `reference '${reference.typed}' ${named} has neither default.ts nor index.ts in ${reference.dir || "the root of"} ${where}: add #<path/to/script.ts>`,
      );
    }
    target = realInside(checkout, target, relative(target, entry), reference, "path", commit);
  }
  return target;
}

/**
 * The real path of `base/relative`, which must exist and stay inside the
 * checkout once every symbolic link is followed: refused before anything
 * outside is listed, read or parsed. `checkout` and `base` (inside it) are real paths.
 */
function realInside(checkout: string, base: string, relativePath: string, reference: Reference, what: "dir" | "path", commit: string): string {
  const normal = normalize(relativePath);
  if (isAbsolute(relativePath) || normal === ".." || normal.startsWith(`..${sep}`)) {
    throw new TsexecError(`reference '${reference.typed}': the ${what} '${relativePath}' escapes the checkout`);
  }
  let real: string;
  try {
    real = realpathSync(join(base, normal));
  } catch {
    throw new TsexecError(`reference '${printable(reference.typed)}': no ${what === "dir" ? "directory" : "file"} '${printable(relativePath)}' in ${printable(reference.url)} at ${commit}`);
  }
  if (real !== checkout && !real.startsWith(checkout + sep)) {
    throw new TsexecError(
      `reference '${printable(reference.typed)}': the ${what} '${printable(relativePath)}' leads out of the checkout of ${printable(reference.url)} at ${commit} (a symbolic link to ${printable(real)}); refusing to read it`,
    );
  }
  if (what === "dir" && !statSync(real).isDirectory()) {
    throw new TsexecError(`reference '${reference.typed}': ?dir=${relativePath} is not a directory in ${reference.url} at ${commit}`);
  }
  return real;
}


/** Resolves a reference typed on the command line to the script file to run. */
export async function resolveReferenceScript(typed: string, ctx: PrimitiveContext): Promise<string> {
  return referenceScript(await checkoutReference(parseReference(typed), ctx));
}
