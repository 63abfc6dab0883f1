/**
 * The import graph of src/, read from the source text: what the layering test
 * (layers.test.ts) checks. A small reader over `import`/`export … from` lines
 * and `import("…")` calls, not a parser: src/ writes its imports plainly.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export interface ImportEdge {
  /** Importing file, relative to the repository root (`src/cli/main.ts`). */
  readonly from: string;
  /** Imported file, likewise. */
  readonly to: string;
  /** 1-based line of the import, for messages. */
  readonly line: number;
}

const importPattern = /\b(?:import|export)\s+(?:type\s+)?(?:[^;'"]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']|\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** Every `.ts` file below `dir`, relative to `root`. */
export function sourceFiles(root: string, dir = "src"): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(join(root, d), { withFileTypes: true })) {
      const path = `${d}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

/** The relative imports in one file's text (type-only ones included: a type that points upward couples the floors too). */
export function importsOf(file: string, text: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const match of text.matchAll(importPattern)) {
    const specifier = (match[1] ?? match[2])!;
    const to = relative(".", join(dirname(file), specifier)).replace(/\.js$/, ".ts");
    const line = text.slice(0, match.index).split("\n").length;
    edges.push({ from: file, to: normalise(to), line });
  }
  return edges;
}

const normalise = (path: string): string => relative("/", resolve("/", path));

/** The whole graph of src/ below `root`. */
export function importGraph(root: string): ImportEdge[] {
  return sourceFiles(root).flatMap((file) => importsOf(file, readFileSync(join(root, file), "utf8")));
}

/**
 * The floors, lowest first: a file may import from its own floor and those
 * below it (docs/architecture.md). The entry points sit above every floor.
 */
export const floors = ["monad", "base", "runtime", "builtins", "inputs", "cli"] as const;

/** A file's floor: the index in `floors` of its top-level folder under src/, or floors.length for src/index.ts and src/unsafe-lib.ts. */
export function floorOf(file: string): number {
  const parts = file.split("/");
  if (parts[0] !== "src") throw new Error(`${file} is not under src/`);
  if (parts.length === 2) return floors.length;
  const floor = floors.indexOf(parts[1] as (typeof floors)[number]);
  if (floor < 0) throw new Error(`${file}: src/${parts[1]}/ is not a floor (add it to floors and docs/architecture.md)`);
  return floor;
}

/** Edges that run from a lower floor to a higher one. */
export function upwardImports(edges: readonly ImportEdge[]): ImportEdge[] {
  return edges.filter((e) => floorOf(e.to) > floorOf(e.from));
}

/** The import cycles among files: each strongly connected component of more than one file (or a file importing itself). */
export function importCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
  // Tarjan's algorithm, iterative so a long chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const [node, i] = top;
      if (i === 0) {
        index.set(node, counter);
        low.set(node, counter++);
        stack.push(node);
        onStack.add(node);
      }
      const successors = next.get(node) ?? [];
      if (i < successors.length) {
        top[1] = i + 1;
        const succ = successors[i]!;
        if (!index.has(succ)) work.push([succ, 0]);
        else if (onStack.has(succ)) low.set(node, Math.min(low.get(node)!, index.get(succ)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(node)!));
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        if (component.length > 1 || successors.includes(node)) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}
