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
import { TsexecError } from "../../runtime/errors.js";

const block = 512;

/** A printable form of a name from a tarball (no control characters reach the terminal). */
export function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

function field(header: Buffer, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? length : end).toString("utf8");
}

function octal(header: Buffer, start: number, length: number): number {
  // GNU base-256: the top bit of the first byte set.
  if (header[start]! & 0x80) {
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + header[i]!;
    return value;
  }
  const text = field(header, start, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

/** `key=value` records of a pax extended header (`<length> <key>=<value>\n`). */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(data.subarray(at, space).toString("ascii"));
    if (!Number.isSafeInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
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
  let longName: string | undefined;
  let pax = new Map<string, string>();
  const made = new Set<string>([""]);
  const makeDir = (relative: string) => {
    if (made.has(relative)) return;
    mkdirSync(join(dest, relative), { recursive: true, mode: 0o755 });
    made.add(relative);
  };
  for (let at = 0; at + block <= tar.length; ) {
    const header = tar.subarray(at, at + block);
    if (header.every((b) => b === 0)) break;
    const size = pax.has("size") ? Number(pax.get("size")) : octal(header, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0 || at + block + size > tar.length) {
      throw new TsexecError(`${what}: the tarball is truncated or corrupt; the package was not stored`);
    }
    const data = tar.subarray(at + block, at + block + size);
    at += block + Math.ceil(size / block) * block;
    const type = String.fromCharCode(header[156] || 0x30);
    if (type === "x") {
      pax = paxRecords(data);
      continue;
    }
    if (type === "g") continue;
    if (type === "L") {
      longName = data.toString("utf8").replace(/\0+$/, "");
      continue;
    }
    if (type === "K") continue;
    const prefix = field(header, 345, 155);
    const name = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const mode = octal(header, 100, 8);
    pax = new Map();
    longName = undefined;
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
  return files;
}
