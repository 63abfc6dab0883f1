/**
 * The layout stays true: no file of src/ imports from a floor above its own,
 * no two files import each other (directly or round a circle), and no folder
 * grows past ~20 loose files. docs/architecture.md says what each floor owns.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { floorOf, floors, importCycles, importGraph, importsOf, sourceFiles, upwardImports } from "./imports.js";

const root = join(import.meta.dirname, "..", "..");
const graph = importGraph(root);
const describeEdge = (e: { from: string; to: string; line: number }) => `${e.from}:${e.line} imports ${e.to}`;

describe("src/ layering", () => {
  test("the reader finds the imports src/ has (a guard against a reader that finds nothing)", () => {
    expect(graph.length).toBeGreaterThan(300);
    expect(graph).toContainEqual(expect.objectContaining({ from: "src/cli/main.ts", to: "src/runtime/interpreter.ts" }));
  });

  test("every file of src/ is on a floor", () => {
    for (const file of sourceFiles(root)) expect(() => floorOf(file), file).not.toThrow();
    expect(readdirSync(join(root, "src"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()).toEqual([...floors].sort());
  });

  test("no import runs upward", () => {
    expect(upwardImports(graph).map(describeEdge)).toEqual([]);
  });

  test("no two files import each other, directly or round a circle", () => {
    expect(importCycles(graph)).toEqual([]);
  });

  test("every import names a file that exists", () => {
    const files = new Set(sourceFiles(root));
    expect(graph.filter((e) => e.to.startsWith("src/") && !files.has(e.to)).map(describeEdge)).toEqual([]);
  });

  test("no folder holds more than 20 loose files", () => {
    const counts = new Map<string, number>();
    for (const file of sourceFiles(root)) {
      const dir = file.slice(0, file.lastIndexOf("/"));
      counts.set(dir, (counts.get(dir) ?? 0) + 1);
    }
    expect([...counts].filter(([, n]) => n > 20)).toEqual([]);
  });
});

describe("the checker itself", () => {
  test("reads static, type-only, re-export and dynamic imports, with their lines", () => {
    const text = [
      `import { a } from "../base/errors.js";`,
      `import type { B } from "./b.js";`,
      `export { c } from "../../monad/io.js";`,
      `const d = await import("../inputs/reference.js");`,
      `import {`,
      `  e,`,
      `} from "./e.js";`,
      `import "node:fs";`,
      `import x from "koffi";`,
    ].join("\n");
    expect(importsOf("src/runtime/x.ts", text)).toEqual([
      { from: "src/runtime/x.ts", to: "src/base/errors.ts", line: 1 },
      { from: "src/runtime/x.ts", to: "src/runtime/b.ts", line: 2 },
      { from: "src/runtime/x.ts", to: "monad/io.ts", line: 3 },
      { from: "src/runtime/x.ts", to: "src/inputs/reference.ts", line: 4 },
      { from: "src/runtime/x.ts", to: "src/runtime/e.ts", line: 5 },
    ]);
  });

  test("an import from a higher floor is reported; one from below or beside is not", () => {
    const edges = [
      { from: "src/base/files.ts", to: "src/cli/main.ts", line: 3 },
      { from: "src/cli/main.ts", to: "src/base/files.ts", line: 1 },
      { from: "src/builtins/dlopen/index.ts", to: "src/builtins/derivation/index.ts", line: 2 },
      { from: "src/index.ts", to: "src/cli/main.ts", line: 1 },
      { from: "src/runtime/loader/index.ts", to: "src/index.ts", line: 9 },
    ];
    expect(upwardImports(edges)).toEqual([edges[0], edges[4]]);
  });

  test("a circle of any length is reported once, and a chain is not", () => {
    const edge = (from: string, to: string) => ({ from, to, line: 1 });
    expect(importCycles([edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("c", "d")])).toEqual([["a", "b", "c"]]);
    expect(importCycles([edge("a", "b"), edge("b", "a")])).toEqual([["a", "b"]]);
    expect(importCycles([edge("a", "a")])).toEqual([["a"]]);
    const chain = Array.from({ length: 50_000 }, (_, i) => edge(`f${i}`, `f${i + 1}`));
    expect(importCycles(chain)).toEqual([]);
  });
});
