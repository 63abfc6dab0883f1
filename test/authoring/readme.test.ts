// The README's TypeScript examples cannot rot: each full script in it type-checks (tsexec check)
// and runs; each module type-checks; an excerpt of examples/ matches the file it names.
import { describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { root, runTsexec, writeTree } from "../helpers.js";

interface Block {
  readonly line: number;
  readonly code: string;
}

function typeScriptBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```ts") continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[++i] !== "```");
    blocks.push({ line: start, code: lines.slice(start, i).join("\n") + "\n" });
  }
  return blocks;
}

const blocks = typeScriptBlocks(readFileSync(join(root, "README.md"), "utf8"));
const excerpts = blocks.filter((b) => b.code.startsWith("// examples/"));
const scripts = blocks.filter((b) => !excerpts.includes(b) && /^export default /m.test(b.code));
const modules = blocks.filter((b) => !excerpts.includes(b) && !scripts.includes(b));

/** The blocks as files README-<line>.ts in a directory where fp-ts resolves as it would beside a script. */
function project(selected: readonly Block[]): string {
  const dir = writeTree(Object.fromEntries(selected.map((b) => [`README-${b.line}.ts`, b.code])));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(join(root, "node_modules", "fp-ts"), join(dir, "node_modules", "fp-ts"), "dir");
  return dir;
}

describe("the README's examples", () => {
  it("finds the scripts, modules and excerpts", () => {
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    expect(modules.length).toBeGreaterThanOrEqual(1);
    expect(excerpts.length).toBeGreaterThanOrEqual(2);
  });

  it("every script and module type-checks with tsexec check", async () => {
    const selected = [...scripts, ...modules];
    const dir = project(selected);
    const r = await runTsexec(["check", ...selected.map((b) => `README-${b.line}.ts`)], { cwd: dir });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("every script runs", async () => {
    const dir = project(scripts);
    for (const block of scripts) {
      const r = await runTsexec([`README-${block.line}.ts`, "a", "bb"], { cwd: dir });
      expect(r.stderr, `README.md line ${block.line}`).toBe("");
      expect(r.code, `README.md line ${block.line}`).toBe(0);
    }
  });

  it("an excerpt of examples/ names files that exist, and a whole script shown is the file's text", () => {
    for (const block of excerpts) {
      for (const [, name] of block.code.matchAll(/^\/\/ (examples\/[\w.-]+\.ts)/gm)) expect(existsSync(join(root, name!)), name).toBe(true);
      if (/^export default /m.test(block.code)) {
        const name = /^\/\/ (examples\/[\w.-]+\.ts)/.exec(block.code)![1]!;
        expect(readFileSync(join(root, name), "utf8")).toContain(block.code.slice(block.code.indexOf("\n") + 1));
      }
    }
  });
});
