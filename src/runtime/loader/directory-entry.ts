/**
 * The file a directory stands for. A module of its own: running a script
 * needs this, while the rest of ./resolve.ts (specifiers, packages) loads
 * only with the transpiler.
 */
import { statSync } from "node:fs";
import { join } from "node:path";

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file a directory stands for, as nix's `default.nix`: `default.ts`, then `index.ts`. */
export function directoryEntry(dir: string): string | undefined {
  for (const name of ["default.ts", "index.ts"]) {
    const file = join(dir, name);
    if (isFile(file)) return file;
  }
  return undefined;
}
