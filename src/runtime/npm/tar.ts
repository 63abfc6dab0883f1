/**
 * Extracts an npm package tarball (gzip'd tar) in-process. Packages are
 * untrusted, so only regular files and directories are written, each at a
 * path checked to stay inside the destination: absolute paths, `..`,
 * symbolic and hard links, devices and FIFOs are refused with an error that
 * names the package and the entry. npm's tarballs put everything under one
 * top directory (`package/`), which is dropped.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { TsexecError } from "../../base/errors.js";
import { TarFormatError, tarEntries } from "../../base/tar.js";

/** A printable form of a name from a tarball (no control characters reach the terminal). */
export function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** The entry's path inside the package (top directory dropped), or undefined for the top directory itself. */
function safeRelativePath(name: string, what: string): string | undefined {
  const fail = (why: string) => {
    throw new TsexecError(`${what}: the tarball entry '${printable(name)}' ${why}; the package was not stored`);
  };
  if (name.includes("\0")) fail("has a NUL byte in its name");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) fail("has an absolute path");
  const parts = name.split(/[/\\]/).filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) fail("leads out of the package ('..')");
  const inside = parts.slice(1);
  return inside.length === 0 ? undefined : inside.join("/");
}

/**
 * Writes the files of `tgz` under `dest` (an empty directory). `what` names
 * the package in errors. Returns how many files were written.
 */
export function extractTarball(tgz: Buffer, dest: string, what: string): number {
  let tar: Buffer;
  try {
    // A bound on what a (crafted) tarball may inflate to.
    tar = gunzipSync(tgz, { maxOutputLength: 1 << 30 });
  } catch (error) {
    throw new TsexecError(`${what}: the tarball is not valid gzip (${(error as Error).message}); the package was not stored`);
  }
  let files = 0;
  const made = new Set<string>([""]);
  const makeDir = (relative: string) => {
    if (made.has(relative)) return;
    mkdirSync(join(dest, relative), { recursive: true, mode: 0o755 });
    made.add(relative);
  };
  try {
    for (const { name, type, mode, data } of tarEntries(tar)) {
      const relative = safeRelativePath(name, what);
      if (type === "5") {
        if (relative !== undefined) makeDir(relative);
        continue;
      }
      if (type !== "0" && type !== "7") {
        const kinds: Record<string, string> = { "1": "a hard link", "2": "a symbolic link", "3": "a character device", "4": "a block device", "6": "a FIFO" };
        throw new TsexecError(`${what}: the tarball entry '${printable(name)}' is ${kinds[type] ?? `of unknown type '${printable(type)}'`}, which tsexec does not extract; the package was not stored`);
      }
      if (relative === undefined) continue;
      const slash = relative.lastIndexOf("/");
      if (slash > 0) makeDir(relative.slice(0, slash));
      writeFileSync(join(dest, relative), data, { mode: mode & 0o111 ? 0o755 : 0o644 });
      files++;
    }
  } catch (error) {
    if (error instanceof TarFormatError) throw new TsexecError(`${what}: the tarball is truncated or corrupt (${error.message}); the package was not stored`);
    throw error;
  }
  return files;
}
