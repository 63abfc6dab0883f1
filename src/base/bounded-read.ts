/**
 * Reading a file tsexec does not own (a project's tsexec.lock, package.json,
 * package-lock.json, .npmrc, the registry, a script to transpile): the place
 * may be a cloned or fetched tree, so the name may be a FIFO (the read blocks
 * for ever), a device or a link to /dev/zero (it never ends), a link out of
 * its directory, or a gigabyte. One reader for all of them: a regular file
 * only, a link followed only if it stays inside `boundary` (the file's own
 * directory unless told), at most `maxBytes` read, and a refusal worded to
 * name the file.
 *
 * Base helper: node: only.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, type Stats } from "node:fs";
import { dirname, sep } from "node:path";
import { TsexecError } from "./errors.js";
import { printable } from "./printable.js";

/** What one file read on a project's behalf may hold: far above any real lock or manifest, far below memory trouble. */
export const defaultMaxFileBytes = 64 * 1024 * 1024;

export interface BoundedReadOptions {
  /** Refuse a file larger than this (default 64 MiB). */
  readonly maxBytes?: number;
  /** A link may lead anywhere inside this directory (default: the file's own directory). */
  readonly boundary?: string;
}

export type BoundedRead =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "absent" }
  /** `why` completes "<file> is …" / "not read: …" (e.g. "a named pipe, not a regular file"). */
  | { readonly kind: "refused"; readonly why: string };

const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Reads `file` within the bounds; never throws for what the file is, only
 * says so. Opening with O_NONBLOCK means a FIFO with no writer does not block
 * the open; fstat then refuses it. The common case (a plain file, no link)
 * costs one open, one fstat and the reads.
 */
export function readBounded(file: string, options: BoundedReadOptions = {}): BoundedRead {
  const maxBytes = options.maxBytes ?? defaultMaxFileBytes;
  let fd: number;
  try {
    fd = openSync(file, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent" };
    if (code !== "ELOOP") return { kind: "refused", why: `unreadable (${code ?? String(error)})` };
    // A symbolic link: follow it only to a place inside the boundary.
    const real = realInside(file, options.boundary ?? dirname(file));
    if (real === undefined) return { kind: "absent" };
    if (real === false) return { kind: "refused", why: "a symbolic link out of its directory" };
    try {
      fd = openSync(real, flags);
    } catch (again) {
      return { kind: "refused", why: `unreadable (${(again as NodeJS.ErrnoException).code ?? String(again)})` };
    }
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { kind: "refused", why: `${kindOf(stat)}, not a regular file` };
    if (stat.size > maxBytes) return { kind: "refused", why: tooLarge(stat.size, maxBytes) };
    // Read to the end rather than trust st_size (it may grow meanwhile; /proc files report 0).
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(stat.size + 1 - total, 64 * 1024), maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return { kind: "refused", why: tooLarge(total, maxBytes) };
    }
    return { kind: "text", text: Buffer.concat(chunks, total).toString("utf8") };
  } catch (error) {
    return { kind: "refused", why: `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  } finally {
    closeSync(fd);
  }
}

/**
 * `file`'s text, or undefined when there is none; anything else that keeps it
 * from being read is one TsexecError naming the file (escaped: the name may
 * come from a crafted tree), saying what it is and `fix` (what to do).
 */
export function readBoundedText(file: string, options: BoundedReadOptions & { readonly fix?: string } = {}): string | undefined {
  const read = readBounded(file, options);
  if (read.kind === "text") return read.text;
  if (read.kind === "absent") return undefined;
  throw new TsexecError(`cannot read ${printable(file)}: it is ${read.why}: ${options.fix ?? "replace it with a regular file, or remove it"}`);
}

/** The real path of the link `file` when it lies inside `boundary`; false when outside; undefined when it leads nowhere. */
function realInside(file: string, boundary: string): string | false | undefined {
  let real: string;
  let top: string;
  try {
    real = realpathSync(file);
    top = realpathSync(boundary);
  } catch {
    return undefined;
  }
  return real === top || real.startsWith(top.endsWith(sep) ? top : top + sep) ? real : false;
}

function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return "a named pipe";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "a device";
  if (stat.isSocket()) return "a socket";
  if (stat.isDirectory()) return "a directory";
  return "not a regular file";
}

function tooLarge(size: number, maxBytes: number): string {
  return `${formatMiB(size)}, over the limit of ${formatMiB(maxBytes)} for this file`;
}

function formatMiB(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${bytes} bytes`;
}

/**
 * The text of a file that must be there (a script, a module it imports), read
 * within the bounds; a link may lead anywhere (a script linked from ~/bin),
 * since where a fetched checkout's imports may lead is the loader's check.
 */
export function readSourceText(file: string, maxBytes = defaultMaxFileBytes): string {
  const text = readBoundedText(file, { maxBytes, boundary: "/", fix: "a script must be a regular file: replace it, or remove it" });
  if (text === undefined) throw new TsexecError(`cannot read ${printable(file)}: no such file`);
  return text;
}
