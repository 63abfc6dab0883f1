/**
 * Makes the cache ready to run a script without running any of it (a profile
 * install pins an app this way): transpiles TypeScript, installing the npm
 * packages it imports, unless its manifest is fresh. Kept out of index.ts:
 * a warm run never needs it.
 */
import { readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { versionString } from "../../base/package.js";
import { discardEntry, lookupManifest, writeManifest, type Manifest } from "./cache.js";

/** The manifest of `file`'s transpiled graph; undefined for JavaScript that runs as it is. */
export async function prepareScript(file: string, cacheDir: string): Promise<Manifest | undefined> {
  if ([".js", ".mjs", ".cjs"].includes(extname(file)) && !/["']npm:/.test(readFileSync(file, "utf8"))) return undefined;
  const scriptsDir = join(cacheDir, "scripts");
  const version = versionString();
  const found = lookupManifest(scriptsDir, file, version);
  if (found.kind === "fresh") return found.manifest;
  if (found.kind === "damaged") discardEntry(scriptsDir, file, found.file);
  const { transpileGraph } = await import("./transpile.js");
  const manifest = await transpileGraph(file, scriptsDir, version, "");
  writeManifest(scriptsDir, manifest);
  return manifest;
}
