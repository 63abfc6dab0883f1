/**
 * Reads tar archives (ustar, with pax extended headers and GNU long names),
 * the format of `git archive` and of npm's package tarballs. Only reading:
 * what may be written where is each caller's policy (fetchgit writes through
 * a ConfinedTree, the package store refuses every link), so nothing here
 * touches the file system.
 *
 * Base helper: imports nothing from above it.
 */

const block = 512;

export interface TarEntry {
  /** The entry's path as the archive names it (pax `path`, GNU long name, or prefix/name). */
  readonly name: string;
  /** The ustar type flag: "0" file, "5" directory, "2" symlink, "1" hard link, ... */
  readonly type: string;
  readonly mode: number;
  /** A link's target (pax `linkpath` or the header's). */
  readonly linkName: string;
  readonly data: Buffer;
}

/** A malformed archive: the message says where. */
export class TarFormatError extends Error {}

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

/**
 * The entries of `archive`, in order, with pax, global and GNU long-name
 * headers applied and not yielded. Throws TarFormatError on a header whose
 * size is invalid or an archive that ends inside an entry.
 */
export function* tarEntries(archive: Buffer): Generator<TarEntry> {
  let pax = new Map<string, string>();
  let longName: string | undefined;
  for (let at = 0; at + block <= archive.length; ) {
    const header = archive.subarray(at, at + block);
    if (header.every((byte) => byte === 0)) return;
    const size = pax.has("size") ? Number(pax.get("size")) : octal(header, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`the header at byte ${at} has an invalid size`);
    if (at + block + size > archive.length) throw new TarFormatError(`the archive ends inside the entry at byte ${at}`);
    const data = archive.subarray(at + block, at + block + size);
    at += block + Math.ceil(size / block) * block;
    const type = String.fromCharCode(header[156] || 0x30);
    if (type === "x") {
      pax = paxRecords(data);
      continue;
    }
    if (type === "g" || type === "K") continue; // global header (git's commit id comment), GNU long link name
    if (type === "L") {
      longName = data.toString("utf8").replace(/\0+$/, "");
      continue;
    }
    const prefix = field(header, 345, 155);
    const name = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const linkName = pax.get("linkpath") ?? field(header, 157, 100);
    const mode = octal(header, 100, 8);
    pax = new Map();
    longName = undefined;
    yield { name, type: type === "\0" ? "0" : type, mode, linkName, data };
  }
}
