/**
 * The archive writer against generated archives (fast-check): whatever the
 * entries (links to outside, '..', absolute names, duplicates, entries
 * beneath links and files), extraction either succeeds or throws
 * UnsafeEntryError, and nothing outside the target directory changes.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { tempDir } from "../helpers.js";
import { ConfinedTree, UnsafeEntryError } from "../../src/builtins/fetchgit/confined.js";
import { extractTar } from "../../src/builtins/fetchgit/tar.js";

type Entry = { kind: "dir" | "file" | "link"; name: string; data: string; target: string };

/** A 512-byte ustar header; names and link targets go in a pax header before it, as git writes long ones. */
function header(name: string, type: string, size: number, link = "", mode = 0o644): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 99), 0);
  h.write(mode.toString(8).padStart(7, "0"), 100);
  h.write(size.toString(8).padStart(11, "0"), 124);
  h.write(type, 156);
  h.write(link.slice(0, 99), 157);
  h.write("ustar\u000000", 257);
  return h;
}

function pad(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (`${length}${body}`.length !== length) length++;
  return `${length}${body}`;
}

export function makeTar(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const pax = Buffer.from(paxRecord("path", e.name) + (e.kind === "link" ? paxRecord("linkpath", e.target) : ""));
    parts.push(header("pax", "x", pax.length), pad(pax));
    const data = Buffer.from(e.kind === "file" ? e.data : "");
    parts.push(header("ignored", e.kind === "dir" ? "5" : e.kind === "link" ? "2" : "0", data.length), pad(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function snapshot(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) out.push(`${entry.name} -> ${readlinkSync(path)}`);
    else if (entry.isDirectory()) out.push(`${entry.name}/`, ...snapshot(path).map((p) => `${entry.name}/${p}`));
    else out.push(`${entry.name}: ${readFileSync(path, "utf8")}`);
  }
  return out;
}

/** Checks that every path under `root` is a link, file or directory reached without passing a link. */
function everythingBeneath(root: string): void {
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const stat = lstatSync(join(root, entry.name));
    if (stat.isDirectory()) everythingBeneath(join(root, entry.name));
  }
}

describe("extractTar", () => {
  test("fast-check: generated archives never change anything outside the target", () => {
    const sandbox = tempDir("tar-prop-");
    const outside = join(sandbox, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "keep.txt"), "keep\n");
    const before = snapshot(outside);
    const component = fc.constantFrom("a", "b", "lnk", "..", ".", "", "keep.txt", "outside");
    const name = fc.oneof(
      fc.array(component, { minLength: 1, maxLength: 4 }).map((parts) => parts.join("/")),
      fc.constantFrom("/abs", `${outside}/x`, "../outside/keep.txt", "lnk/keep.txt", "a/../../outside/p", "lnk/"),
    );
    const target = fc.constantFrom(outside, "..", "../outside", "/", "a", `${outside}/keep.txt`, "../../..");
    const entry = fc.record({ kind: fc.constantFrom("dir", "file", "link") as fc.Arbitrary<Entry["kind"]>, name, data: fc.constantFrom("x", "pwned"), target });
    let n = 0;
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), (entries) => {
        const root = join(sandbox, `root-${n++}`);
        mkdirSync(root);
        try {
          extractTar(makeTar(entries), new ConfinedTree(root));
        } catch (error) {
          if (!(error instanceof UnsafeEntryError)) throw error;
        }
        everythingBeneath(root);
        expect(snapshot(outside)).toEqual(before);
        // Only the root directories this run made exist beside `outside`.
        expect(readdirSync(sandbox).filter((n) => !n.startsWith("root-"))).toEqual(["outside"]);
      }),
      { numRuns: 400 },
    );
  });

  test("a well-formed archive extracts: files, modes, links, nested directories", () => {
    const root = tempDir("tar-ok-");
    extractTar(
      makeTar([
        { kind: "dir", name: "d/", data: "", target: "" },
        { kind: "file", name: "d/f.txt", data: "hi", target: "" },
        { kind: "link", name: "d/l", data: "", target: "f.txt" },
        { kind: "file", name: "deep/er/g.txt", data: "g", target: "" },
      ]),
      new ConfinedTree(root),
    );
    expect(readFileSync(join(root, "d/f.txt"), "utf8")).toBe("hi");
    expect(readlinkSync(join(root, "d/l"))).toBe("f.txt");
    expect(readFileSync(join(root, "deep/er/g.txt"), "utf8")).toBe("g");
  });

  test.each([
    [[{ kind: "link", name: "lnk", target: "/tmp" }, { kind: "file", name: "lnk/p", data: "x" }], "lnk/p", "beneath the symbolic link 'lnk'"],
    [[{ kind: "file", name: "f", data: "x" }, { kind: "file", name: "f/p", data: "x" }], "f/p", "beneath the file 'f'"],
    [[{ kind: "file", name: "../p", data: "x" }], "../p", "'..'"],
    [[{ kind: "file", name: "a/../../p", data: "x" }], "a/../../p", "'..'"],
    [[{ kind: "file", name: "/etc/p", data: "x" }], "/etc/p", "absolute"],
    [[{ kind: "link", name: "l", target: "/tmp" }, { kind: "file", name: "l", data: "x" }], "l", "twice"],
  ] as const)("refused: %j", (entries, entry, reason) => {
    const root = tempDir("tar-bad-");
    const full = entries.map((e) => ({ data: "", target: "", ...e }) as Entry);
    expect(() => extractTar(makeTar(full), new ConfinedTree(root))).toThrow(UnsafeEntryError);
    try {
      extractTar(makeTar(full), new ConfinedTree(tempDir("tar-bad-")));
    } catch (error) {
      expect((error as UnsafeEntryError).entry).toBe(entry);
      expect((error as Error).message).toContain(reason);
    }
  });
});

describe("ConfinedTree.copyIn (submodules)", () => {
  function submoduleSource(): string {
    const source = tempDir("sub-src-");
    writeFileSync(join(source, "s.txt"), "sub");
    mkdirSync(join(source, "d"));
    writeFileSync(join(source, "d", "e.txt"), "deep");
    return source;
  }

  test("copies a checkout into an empty submodule directory, or a missing one", () => {
    const tree = new ConfinedTree(tempDir("copy-ok-"));
    tree.directory("mod/");
    tree.copyIn("mod", submoduleSource());
    tree.copyIn("other/place", submoduleSource());
    expect(readFileSync(join(tree.root, "mod", "d", "e.txt"), "utf8")).toBe("deep");
    expect(readFileSync(join(tree.root, "other", "place", "s.txt"), "utf8")).toBe("sub");
  });

  test.each([
    ["beneath a symbolic link", (t: ConfinedTree, outside: string) => t.symlink("s", outside), "s/target", "beneath the symbolic link 's'"],
    ["at a symbolic link", (t: ConfinedTree, outside: string) => t.symlink("s", outside), "s", "as a symbolic link"],
    ["beneath a file", (t: ConfinedTree) => t.file("f", Buffer.from("x"), false), "f/target", "beneath the file 'f'"],
    ["over files of the tree", (t: ConfinedTree) => t.file("m/x", Buffer.from("x"), false), "m", "also fills with files"],
    ["with '..'", () => {}, "../target", "'..'"],
  ])("refused %s, the outside untouched", (_what, setup, path, reason) => {
    const outside = tempDir("copy-outside-");
    mkdirSync(join(outside, "target"));
    writeFileSync(join(outside, "target", "keep.txt"), "keep");
    const tree = new ConfinedTree(tempDir("copy-bad-"));
    setup(tree, outside);
    expect(() => tree.copyIn(path, submoduleSource())).toThrow(reason);
    expect(snapshot(outside)).toEqual(["target/", "target/keep.txt: keep"]);
  });
});
