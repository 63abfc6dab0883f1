/**
 * Where a directory's `tsexec.lock` is. A module of its own: a warm run checks
 * the lock's mtime (src/inputs/memo.ts) without loading the parser and
 * writer in ./lockfile.ts. Base helper: imports nothing from tsexec.
 */
import { join } from "node:path";

export const lockFileName = "tsexec.lock";

export function lockPath(dir: string): string {
  return join(dir, lockFileName);
}
