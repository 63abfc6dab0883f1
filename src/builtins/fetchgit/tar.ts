/**
 * Unpacks the tar stream `git archive` writes (ustar with pax headers) into a
 * directory. Done here rather than by spawning tar: one process less per
 * fetch, and every entry is written through a ConfinedTree, which nothing
 * in the archive can lead outside the target.
 */
import { UnsafeEntryError, type ConfinedTree } from "./confined.js";

const block = 512;

function field(header: Buffer, offset: number, length: number): string {
  const end = header.indexOf(0, offset);
  return header.toString("utf8", offset, end < 0 || end > offset + length ? offset + length : end);
}

function octal(header: Buffer, offset: number, length: number): number {
  const text = field(header, offset, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

/** `key=value` records of a pax header: `<length> <key>=<value>\n`. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = parseInt(data.toString("utf8", at, space), 10);
    if (!(length > 0)) break;
    const record = data.toString("utf8", space + 1, at + length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

/**
 * Extracts `archive` into the fresh directory `tree.root`. Throws
 * UnsafeEntryError for an entry that would leave it (see confined.ts), and
 * Error for a malformed archive or an entry type git never writes.
 */
export function extractTar(archive: Buffer, tree: ConfinedTree): void {
  let at = 0;
  let pax = new Map<string, string>();
  while (at + block <= archive.length) {
    const header = archive.subarray(at, at + block);
    if (header.every((byte) => byte === 0)) break;
    const size = octal(header, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`archive header at byte ${at} has an invalid size`);
    const type = String.fromCharCode(header[156] || 0x30);
    const data = archive.subarray(at + block, at + block + size);
    if (data.length < size) throw new Error(`archive ends inside an entry`);
    at += block + Math.ceil(size / block) * block;
    if (type === "g") continue; // global header: git's commit id comment
    if (type === "x") {
      pax = paxRecords(data);
      continue;
    }
    const prefix = field(header, 345, 155);
    const name = pax.get("path") ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const linkName = pax.get("linkpath") ?? field(header, 157, 100);
    const mode = octal(header, 100, 8);
    pax = new Map();
    if (type === "5") tree.directory(name);
    else if (type === "0" || type === "\0" || type === "7") tree.file(name, data, (mode & 0o111) !== 0);
    else if (type === "2") tree.symlink(name, linkName);
    else throw new UnsafeEntryError(name, `has unsupported archive entry type '${type}'`);
  }
}
