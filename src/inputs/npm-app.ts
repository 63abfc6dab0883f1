/**
 * `tsexec npm:name[@range][#bin] [ARGS…]`: a published package's bin, run as
 * npx runs it, through tsexec's store (runtime/npm): the range resolved
 * against the registry, every tarball verified against its integrity,
 * installed once and shared, no install scripts unless allowed.
 */
import type { PrimitiveContext } from "../monad/io.js";
import { TsexecError } from "../base/errors.js";
import { printable } from "../base/printable.js";
import { appEntry, readBin, type AppEntry } from "./apps.js";

export interface PublishedPackage {
  /** The package's directory in its installed tree. */
  readonly packageDir: string;
  /** `name@version`. */
  readonly key: string;
  readonly name: string;
  readonly fragment: string | undefined;
}

/** Parses `npm:name[@range][#bin]` and installs the package (or finds it in the store). */
export async function locatePublishedPackage(typed: string, ctx: PrimitiveContext): Promise<PublishedPackage> {
  const body = typed.slice("npm:".length);
  const hashAt = body.indexOf("#");
  const spec = hashAt < 0 ? body : body.slice(0, hashAt);
  const fragment = hashAt < 0 || hashAt === body.length - 1 ? undefined : body.slice(hashAt + 1);
  const at = spec.indexOf("@", spec.startsWith("@") ? 1 : 0);
  const name = at < 0 ? spec : spec.slice(0, at);
  const range = at < 0 || at === spec.length - 1 ? undefined : spec.slice(at + 1);
  if (name === "" || /\/.*\//.test(name)) throw new TsexecError(`'${printable(typed)}' is not a package to run: write npm:<name>[@<version or range>][#<bin>]`);
  const { installPublishedPackage } = await import("../runtime/npm/index.js");
  const { packageDir, key } = await installPublishedPackage(name, range, ctx);
  return { packageDir, key, name, fragment };
}

/**
 * The bin to run: the one the fragment names; without one, the package's
 * only bin, else the bin named like the package (without its scope), as npx
 * chooses.
 */
export function publishedApp(pkg: PublishedPackage): AppEntry {
  const what = `npm:${printable(pkg.key)}`;
  const bin = readBin(pkg.packageDir, what) ?? {};
  const names = Object.keys(bin);
  if (names.length === 0) throw new TsexecError(`${what} has no bin: it offers no command to run (it is a library; import it from a script as npm:${printable(pkg.name)})`);
  const own = pkg.name.replace(/^@[^/]*\//, "");
  const fragment = pkg.fragment ?? (names.length === 1 ? names[0]! : names.includes(own) ? own : undefined);
  if (fragment === undefined) throw new TsexecError(`${what} has several bins (${names.map(printable).join(", ")}) and none named ${printable(own)}: name one, as in npm:${printable(pkg.key)}#${printable(names[0]!)}`);
  if (!Object.hasOwn(bin, fragment)) throw new TsexecError(`${what} has no bin '${printable(fragment)}': its bins are ${names.map(printable).join(", ")}`);
  return appEntry(pkg.packageDir, pkg.packageDir, fragment, what)!;
}
