/** Facts about the installed tsexec package: where it is and which version. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package's root directory (this file runs from `<root>/dist/` or, under vitest, `<root>/src/runtime/`). */
export const packageRoot: string = fileURLToPath(new URL(".", import.meta.url)).replace(/\/(dist|src)\/.*$/, "");

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patchlevel: number;
  readonly prelevel?: string;
}

export interface Configuration {
  /** The installation prefix: the tsexec package directory. */
  readonly prefix: string;
  /** The data directory: where tsexec's data files (`include/`, `examples/`) live. */
  readonly datadir: string;
  readonly version: Version;
  /** The Node-API headers' include directory (also `$NODE_API_INCLUDE` in builds). */
  readonly nodeApiInclude: string;
}

declare const __TSEXEC_VERSION__: string | undefined;

/** The version string, inlined by the build; read from package.json when running from source. */
export function versionString(): string {
  if (typeof __TSEXEC_VERSION__ === "string") return __TSEXEC_VERSION__;
  return JSON.parse(readFileSync(`${packageRoot}/package.json`, "utf8")).version;
}

export function parseVersion(text: string): Version {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-(.+))?$/.exec(text);
  if (!m) throw new Error(`tsexec's package.json has an unparsable version '${text}'`);
  const version = { major: Number(m[1]), minor: Number(m[2]), patchlevel: Number(m[3]) };
  return m[4] === undefined ? version : { ...version, prelevel: m[4] };
}

let configuration: Configuration | undefined;

export function getConfiguration(): Configuration {
  return (configuration ??= Object.freeze({
    prefix: packageRoot,
    datadir: packageRoot,
    version: Object.freeze(parseVersion(versionString())),
    nodeApiInclude: join(dirname(createRequire(import.meta.url).resolve("node-api-headers/package.json")), "include"),
  }));
}
