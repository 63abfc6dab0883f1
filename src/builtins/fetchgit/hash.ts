/**
 * The content hash of a checkout, for fetchgit's optional `hash`.
 *
 * Canonical form (documented in docs/git.md): walk the checkout, ignore
 * directories themselves (git does not track them), and for every regular file
 * and symbolic link, in ascending order of their '/'-separated relative paths
 * compared as UTF-8 bytes, feed to SHA-256:
 *
 *     <kind> SP <path> NUL <length in decimal> NUL <bytes>
 *
 * where <kind> is `f` (regular file), `x` (regular file with any execute bit)
 * or `l` (symbolic link; <bytes> is the link target). The result is written
 * `sha256-<base64>` (an SRI hash, as nix prints them); a 64-digit hex form is
 * accepted too. Submodule contents are part of the checkout, so they count.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { TsexecError } from "../../base/errors.js";

export function contentHash(root: string): string {
  const files: string[] = [];
  collect(root, "", files);
  files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const hash = process.getBuiltinModule("node:crypto").createHash("sha256");
  for (const path of files) {
    const full = join(root, path);
    const stat = lstatSync(full);
    const kind = stat.isSymbolicLink() ? "l" : stat.mode & 0o111 ? "x" : "f";
    const bytes = kind === "l" ? Buffer.from(readlinkSync(full)) : readFileSync(full);
    hash.update(`${kind} ${path}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return `sha256-${hash.digest("base64")}`;
}

function collect(root: string, prefix: string, out: string[]): void {
  for (const entry of readdirSync(join(root, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) collect(root, path, out);
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(path);
  }
}

/** `sha256-<base64>` for a hash given as SRI or as 64 hex digits; throws on anything else. */
export function normalizeHash(hash: unknown, url: string): string {
  if (typeof hash !== "string") throw new TsexecError(`fetchgit: 'hash' for ${url} must be a string like sha256-<base64>`);
  if (/^[0-9a-f]{64}$/i.test(hash)) return `sha256-${Buffer.from(hash, "hex").toString("base64")}`;
  if (/^sha256-[A-Za-z0-9+/]{43}=$/.test(hash)) return hash;
  throw new TsexecError(`fetchgit: 'hash' for ${url} is '${hash}': expected sha256-<44 base64 characters> or 64 hex digits`);
}
