/**
 * The SHA-256 of a path's NAR serialisation (Nix's archive format), computed as
 * Nix computes it when it adds a source by path: what makes a local directory's
 * store path (`builtins.path`, `./dir` in an expression) without running Nix.
 *
 * NAR: every string is its length (64-bit little-endian), its bytes, and zero
 * padding to 8 bytes. A node is `( type regular [executable ""] contents <bytes> )`,
 * `( type symlink target <target> )` or `( type directory entry ( name <n> node <node> ) … )`,
 * entries sorted by name (bytes). Symbolic links are written, never followed.
 */
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from "node:fs";
import { createHash, type Hash } from "node:crypto";
import { TsexecError } from "../../../base/errors.js";

/** A source larger than this is refused: tsexec hashes it in-process on every run that needs its path. */
const maxSourceBytes = 1 << 30;

class NarWriter {
  private readonly hash: Hash = createHash("sha256");
  private bytes = 0;

  constructor(private readonly root: string) {}

  private raw(data: Uint8Array): void {
    this.bytes += data.length;
    if (this.bytes > maxSourceBytes) throw new TsexecError(`${this.root} is larger than 1 GiB: too large to enter the Nix store from tsexec`);
    this.hash.update(data);
  }

  private length(n: number): void {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(BigInt(n));
    this.raw(buf);
  }

  private pad(n: number): void {
    if (n % 8 !== 0) this.raw(Buffer.alloc(8 - (n % 8)));
  }

  str(text: string | Buffer): void {
    const data = typeof text === "string" ? Buffer.from(text) : text;
    this.length(data.length);
    this.raw(data);
    this.pad(data.length);
  }

  /** A regular file's contents, streamed in blocks. */
  private contents(path: string, size: number): void {
    this.length(size);
    const fd = openSync(path, "r");
    try {
      const block = Buffer.alloc(1 << 16);
      let left = size;
      while (left > 0) {
        const n = readSync(fd, block, 0, Math.min(block.length, left), null);
        if (n === 0) throw new TsexecError(`${path} changed while tsexec read it for the Nix store; run again`);
        this.raw(block.subarray(0, n));
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    this.pad(size);
  }

  node(path: string): void {
    const stat = lstatSync(path);
    this.str("(");
    this.str("type");
    if (stat.isSymbolicLink()) {
      this.str("symlink");
      this.str("target");
      this.str(readlinkSync(path, { encoding: "buffer" }));
    } else if (stat.isFile()) {
      this.str("regular");
      if (stat.mode & 0o100) {
        this.str("executable");
        this.str("");
      }
      this.str("contents");
      this.contents(path, stat.size);
    } else if (stat.isDirectory()) {
      this.str("directory");
      const names = readdirSync(path, { encoding: "buffer" }).sort(Buffer.compare);
      for (const name of names) {
        this.str("entry");
        this.str("(");
        this.str("name");
        this.str(name);
        this.str("node");
        this.node(`${path}/${name.toString()}`);
        this.str(")");
      }
    } else {
      throw new TsexecError(`${path} is neither a file, a directory nor a symbolic link: it cannot enter the Nix store`);
    }
    this.str(")");
  }

  digest(): Buffer {
    return this.hash.digest();
  }
}

/** SHA-256 of the NAR of `path` (a file, directory or symbolic link). */
export function narHash(path: string): Buffer {
  const writer = new NarWriter(path);
  writer.str("nix-archive-1");
  writer.node(path);
  return writer.digest();
}
