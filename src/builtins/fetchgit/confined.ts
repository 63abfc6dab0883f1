/**
 * A directory tree being assembled from untrusted content (archive entries,
 * submodule copies) that nothing written into it can leave.
 *
 * The root is a fresh temporary directory only this writer writes into, so
 * what the writer created is exactly what is there: it records the kind of
 * every path it made, and refuses any path with `..`, an absolute name, an
 * empty or NUL-bearing component, or a parent that is a symbolic link or a
 * file. Parents it has not made yet are created one component at a time with
 * a non-recursive mkdir (which fails, rather than follows, if anything is
 * already there); files are created with O_EXCL, which never follows a link.
 * No path through a symbolic link is ever handed to the file system.
 */
import { chmodSync, copyFileSync, constants, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { printable } from "./url.js";

/** A refused entry: `entry` is the path as the content named it, `reason` says why. */
export class UnsafeEntryError extends Error {
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`entry '${printable(entry)}' ${reason}`);
    this.name = "UnsafeEntryError";
  }
}

type Kind = "dir" | "file" | "link";

export class ConfinedTree {
  /** Relative path ('/'-separated, no trailing '/') → what this writer made there. "" is the root. */
  private readonly made = new Map<string, Kind>([["", "dir"]]);

  constructor(readonly root: string) {}

  /** The components of `name`, refusing names that could leave the root. Trailing '/' and '.' components are dropped. */
  static components(name: string): string[] {
    if (name.includes("\0")) throw new UnsafeEntryError(name, "contains a NUL character");
    if (name.startsWith("/")) throw new UnsafeEntryError(name, "is an absolute path");
    const parts = name.split("/").filter((part, index, all) => part !== "." && !(part === "" && index === all.length - 1));
    if (parts.includes("..")) throw new UnsafeEntryError(name, "has a '..' component");
    if (parts.includes("")) throw new UnsafeEntryError(name, "has an empty component ('//')");
    return parts;
  }

  /** Makes every parent of `parts` a directory of this tree, refusing links and files among them. */
  private parents(name: string, parts: readonly string[]): void {
    let relative = "";
    for (const part of parts.slice(0, -1)) {
      relative = relative ? `${relative}/${part}` : part;
      const kind = this.made.get(relative);
      if (kind === "link") throw new UnsafeEntryError(name, `lies beneath the symbolic link '${printable(relative)}'`);
      if (kind === "file") throw new UnsafeEntryError(name, `lies beneath the file '${printable(relative)}'`);
      if (kind === undefined) this.makeDirectory(name, relative);
    }
  }

  private makeDirectory(name: string, relative: string): void {
    try {
      mkdirSync(join(this.root, relative), 0o755);
    } catch (error) {
      throw new UnsafeEntryError(name, `cannot be created: '${printable(relative)}' ${(error as NodeJS.ErrnoException).code === "EEXIST" ? "already exists" : "is not writable"}`);
    }
    this.made.set(relative, "dir");
  }

  /** The relative path of a new entry `name`, its parents made; refuses a name already taken (except directory over directory). */
  private prepare(name: string, kind: Kind): string | undefined {
    const parts = ConfinedTree.components(name);
    if (parts.length === 0) return undefined; // the root itself
    this.parents(name, parts);
    const relative = parts.join("/");
    const existing = this.made.get(relative);
    if (existing === "dir" && kind === "dir") return undefined;
    if (existing !== undefined) throw new UnsafeEntryError(name, `appears twice in the tree (already a ${existing === "dir" ? "directory" : existing === "link" ? "symbolic link" : "file"})`);
    return relative;
  }

  directory(name: string): void {
    const relative = this.prepare(name, "dir");
    if (relative !== undefined) this.makeDirectory(name, relative);
  }

  file(name: string, data: Uint8Array, executable: boolean): void {
    const relative = this.prepare(name, "file");
    if (relative === undefined) throw new UnsafeEntryError(name, "names the checkout's root as a file");
    // 'wx' is O_CREAT|O_EXCL: fails on anything already there, a symbolic link included, instead of following it.
    writeFileSync(join(this.root, relative), data, { mode: executable ? 0o755 : 0o644, flag: "wx" });
    this.made.set(relative, "file");
  }

  symlink(name: string, target: string): void {
    const relative = this.prepare(name, "link");
    if (relative === undefined) throw new UnsafeEntryError(name, "names the checkout's root as a symbolic link");
    if (target.includes("\0")) throw new UnsafeEntryError(name, "is a symbolic link whose target contains a NUL character");
    // A link may point anywhere (git allows it); it is never followed here, and readers of the checkout refuse links that leave it.
    symlinkSync(target, join(this.root, relative));
    this.made.set(relative, "link");
  }

  /**
   * Copies the finished checkout `source` (tsexec's own cache, itself made by
   * a ConfinedTree) to `name`, which must be absent or an empty directory this
   * tree made (git archive writes a submodule as an empty directory).
   */
  copyIn(name: string, source: string): void {
    const parts = ConfinedTree.components(name);
    if (parts.length === 0) throw new UnsafeEntryError(name, "names the checkout's root as a submodule");
    const relative = parts.join("/");
    const existing = this.made.get(relative);
    if (existing === "dir") {
      if (readdirSync(join(this.root, relative)).length > 0) throw new UnsafeEntryError(name, "is a submodule path the tree also fills with files");
      this.copyChildren(source, relative);
    } else if (existing !== undefined) {
      throw new UnsafeEntryError(name, `is a submodule path the tree also has as a ${existing === "link" ? "symbolic link" : "file"}`);
    } else {
      this.directory(name);
      this.copyChildren(source, relative);
    }
  }

  private copyChildren(source: string, relative: string): void {
    for (const child of readdirSync(source)) {
      const from = join(source, child);
      const to = `${relative}/${child}`;
      const stat = lstatSync(from);
      if (stat.isSymbolicLink()) this.symlink(to, readlinkSync(from));
      else if (stat.isDirectory()) {
        this.directory(to);
        this.copyChildren(from, to);
      } else if (stat.isFile()) {
        const path = join(this.root, to);
        this.prepare(to, "file");
        copyFileSync(from, path, constants.COPYFILE_EXCL);
        chmodSync(path, stat.mode & 0o111 ? 0o755 : 0o644);
        this.made.set(to, "file");
      }
    }
  }
}
