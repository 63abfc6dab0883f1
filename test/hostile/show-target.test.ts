/** The rule run and show share for what a target names (src/cli/commands/target.ts). */
import fc from "fast-check";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { makeContext } from "../../src/base/context.js";
import { classifyTarget } from "../../src/cli/commands/target.js";
import { tempDir } from "../helpers.js";

const logged: string[] = [];
const ctx = { ...makeContext({ cacheDir: "/nonexistent" }), log: (line: string) => void logged.push(line) };
const kind = (typed: string) => classifyTarget(typed, ctx, "listing");

describe("classifyTarget", () => {
  const dir = tempDir("show-target-");
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "tool.ts"), "");
  writeFileSync(join(dir, "plain"), "");

  test("references, paths, a directory's fragment, registry names, missing paths", async () => {
    expect(await kind("github:o/r#x")).toEqual({ kind: "reference" });
    expect(await kind("git+file:///srv/x.git")).toEqual({ kind: "reference" });
    expect(await kind(join(dir, "tool.ts"))).toEqual({ kind: "script", path: join(dir, "tool.ts") });
    expect(await kind("nothere.ts")).toEqual({ kind: "script", path: "nothere.ts" });
    expect(await kind(join(dir, "sub"))).toEqual({ kind: "local", path: join(dir, "sub"), is: "directory", fragment: undefined });
    expect(await kind(join(dir, "plain"))).toEqual({ kind: "local", path: join(dir, "plain"), is: "file", fragment: undefined });
    expect(await kind(`${dir}/sub#deploy`)).toEqual({ kind: "local", path: join(dir, "sub"), is: "directory", fragment: "deploy" });
    expect(await kind(`${dir}/sub#`)).toEqual({ kind: "local", path: join(dir, "sub"), is: "directory", fragment: undefined });
    expect(await kind(`${dir}/plain#x`)).toEqual({ kind: "missing", path: `${dir}/plain#x` });
    expect(await kind("nothere-at-all")).toEqual({ kind: "registry" });
    expect(await kind("nothere-at-all/v3#deploy")).toEqual({ kind: "registry" });
    expect(await kind("./nothere")).toEqual({ kind: "missing", path: "./nothere" });
    expect(logged).toEqual([]);
  });

  test("./x, ../x and /x are always paths: never a reference, never a registry name", async () => {
    const prefix = fc.constantFrom("./", "../", "/", `${dir}/`);
    await fc.assert(
      fc.asyncProperty(prefix, fc.string({ maxLength: 12 }), async (start, rest) => {
        expect(["script", "local", "missing"]).toContain((await kind(start + rest)).kind);
      }),
      { numRuns: 200 },
    );
  });
});
