/**
 * What fetchgit accepts, checked before git ever runs. Git's transports are a
 * known attack surface (`ext::sh -c ...` runs a command, a URL or rev starting
 * with `-` becomes an option), so only plain repository addresses pass.
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TsexecError } from "../../base/errors.js";

const allowedSchemes = new Set(["https:", "http:", "ssh:", "git:", "file:"]);

/** `user@host:path`, git's scp-like syntax (the user part is required so `c:/x` stays a path). */
const scpLike = /^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!\/\/)[^\s]*$/;

import { printable } from "../../base/printable.js";

export { printable };

/** A full commit id: SHA-1 (40 hex digits) or SHA-256 (64). */
export function isFullHash(rev: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(rev);
}

/**
 * Checks `url` and returns its canonical form: URLs as given, local paths made
 * absolute against `dir` (the script's directory). Throws a TsexecError naming
 * the URL otherwise.
 */
export function normalizeUrl(url: unknown, dir: string): string {
  if (typeof url !== "string" || url === "") {
    throw new TsexecError(`fetchgit: 'url' must be a non-empty string (a https, http, ssh, git or file URL, user@host:path, or a local path)`);
  }
  const refuse = (why: string): never => {
    throw new TsexecError(`fetchgit: refusing URL '${printable(url)}': ${why}`);
  };
  if (url.startsWith("-")) refuse("it starts with '-' (git would read it as an option)");
  if (/[\u0000-\u001f\u007f]/.test(url)) refuse("it contains control characters");
  // git reads `<scheme characters>::` at the very start as a remote helper (transport.c); nowhere else.
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) refuse("git's '<transport>::<address>' helpers (ext::, fd:: ...) can run commands; use a https, ssh, git or file URL");
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme) {
    const protocol = `${scheme[1]!.toLowerCase()}:`;
    if (!allowedSchemes.has(protocol)) refuse(`the '${scheme[1]}' transport is not allowed; use https, http, ssh, git or file`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return refuse("it is not a valid URL (check the brackets of an IPv6 host, and percent-encode spaces)");
    }
    if (protocol !== "file:" && parsed.hostname === "") refuse("it has no host");
    if (parsed.hostname.startsWith("-")) refuse("its host starts with '-'");
    // git looks schemes up case-sensitively (FILE:// would ask for a `git-remote-FILE` helper).
    return `${protocol}${url.slice(scheme[1]!.length + 1)}`;
  }
  if (scpLike.test(url)) return url;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) && !url.startsWith("./")) {
    refuse("it is neither a URL with an allowed scheme (https, http, ssh, git, file), nor user@host:path, nor a local path");
  }
  return isAbsolute(url) ? resolve(url) : resolve(dir, url);
}

/** Checks a rev (commit hash, tag or branch name) the way `git check-ref-format` would, and more strictly. */
export function validateRev(rev: unknown, url: string): string {
  if (typeof rev !== "string" || rev === "") {
    throw new TsexecError(`fetchgit: 'rev' for ${url} must be a non-empty string (a commit hash, tag or branch name)`);
  }
  const refuse = (why: string): never => {
    throw new TsexecError(`fetchgit: refusing rev '${printable(rev)}' for ${url}: ${why}`);
  };
  if (rev.startsWith("-")) refuse("it starts with '-' (git would read it as an option)");
  if (rev.length > 255) refuse("it is longer than 255 characters");
  if (!/^[A-Za-z0-9._/+@-]+$/.test(rev)) refuse("a rev may contain only letters, digits and . _ / + @ -");
  if (rev.includes("..") || rev.includes("@{") || rev.includes("//")) refuse("'..', '@{' and '//' are not allowed in a ref name");
  if (/^[./]|[./]$|\.lock$|\/\./.test(rev)) refuse("a ref name may not start or end with '.' or '/', end with '.lock', or have a component starting with '.'");
  return rev;
}

/**
 * A submodule URL from `.gitmodules`, resolved against its superproject's URL
 * as git does: `./x` and `../x` are relative to the parent (nix-exec passed
 * them to git unresolved, which failed).
 */
export function resolveSubmoduleUrl(parentUrl: string, submoduleUrl: string): string {
  if (!submoduleUrl.startsWith("./") && !submoduleUrl.startsWith("../")) return submoduleUrl;
  let base = parentUrl.replace(/\/+$/, "");
  let rest = submoduleUrl;
  for (;;) {
    if (rest.startsWith("./")) rest = rest.slice(2);
    else if (rest.startsWith("../")) {
      rest = rest.slice(3);
      base = parentDirectory(base);
    } else break;
  }
  const separator = /^[^/]+@[^/:]+:$/.test(base) ? "" : "/";
  return `${base}${separator}${rest}`;
}

/** Drops the last path component of a URL, scp-like address or path. */
function parentDirectory(base: string): string {
  const slash = base.lastIndexOf("/");
  const scheme = /^[a-z+]+:\/\/[^/]*/i.exec(base);
  if (scheme && slash < scheme[0].length) return base; // nothing left above the host
  const scpColon = /^[^/]+@[^/:]+:/.exec(base);
  if (scpColon && slash < scpColon[0].length) return scpColon[0]; // `git@host:repo` → `git@host:`
  return slash > 0 ? base.slice(0, slash) : base;
}

/** A file URL for a local path (how references and messages show local repositories). */
export function asFileUrl(url: string): string {
  return url.startsWith("/") ? pathToFileURL(url).href : url;
}
