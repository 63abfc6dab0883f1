/**
 * Unpacks the tar stream `git archive` writes (ustar with pax headers) into a
 * directory. Done here rather than by spawning tar: one process less per
 * fetch, and every entry is written through a ConfinedTree, which nothing
 * in the archive can lead outside the target.
 */
import { tarEntries } from "../../base/tar.js";
import { UnsafeEntryError, type ConfinedTree } from "./confined.js";

/**
 * Extracts `archive` into the fresh directory `tree.root`. Throws
 * UnsafeEntryError for an entry that would leave it (see confined.ts), and
 * Error for a malformed archive or an entry type git never writes.
 */
export function extractTar(archive: Buffer, tree: ConfinedTree): void {
  for (const { name, type, mode, linkName, data } of tarEntries(archive)) {
    if (type === "5") tree.directory(name);
    else if (type === "0" || type === "7") tree.file(name, data, (mode & 0o111) !== 0);
    else if (type === "2") tree.symlink(name, linkName);
    else throw new UnsafeEntryError(name, `has unsupported archive entry type '${type}'`);
  }
}
