/** Which optional packages belong on this machine: npm's `os`/`cpu`/`libc` rules (`!x` excludes). */
import { readFileSync } from "node:fs";

let detectedLibc: string | undefined | null = null;

/** `glibc` or `musl` on Linux (from ldd, as detect-libc does, else the process report); undefined elsewhere. */
export function libc(): string | undefined {
  if (detectedLibc !== null) return detectedLibc;
  if (process.platform !== "linux") return (detectedLibc = undefined);
  try {
    return (detectedLibc = readFileSync("/usr/bin/ldd", "utf8").includes("musl") ? "musl" : "glibc");
  } catch {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return (detectedLibc = header?.glibcVersionRuntime ? "glibc" : "musl");
  }
}

function allows(list: readonly string[] | undefined, value: string | undefined): boolean {
  if (list === undefined || list.length === 0 || value === undefined) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((entry) => !entry.startsWith("!"));
  return positive.length === 0 || positive.includes(value) || positive.includes("any");
}

export interface PlatformRestrictions {
  readonly os?: readonly string[] | undefined;
  readonly cpu?: readonly string[] | undefined;
  readonly libc?: readonly string[] | undefined;
}

export function fitsThisPlatform(pkg: PlatformRestrictions): boolean {
  return allows(pkg.os, process.platform) && allows(pkg.cpu, process.arch) && (pkg.libc === undefined || allows(pkg.libc, libc()));
}

/** What makes an installed tree differ between machines besides its packages. */
export function platformKey(): string {
  return `${process.platform}-${process.arch}-${libc() ?? "none"}-abi${process.versions.modules}`;
}
