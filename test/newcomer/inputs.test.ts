/**
 * Issue 21, items 2 and 3: relative input URLs are locked as written (so a
 * project moves and clones with its lock), and the object form of an input
 * takes every URL the string form does, with `dir: "."` the checkout itself.
 * The real tsexec on git repositories over file://.
 */
import { cpSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { git } from "../git/fixtures.js";
import { inputsScript, publish, readLockJson, type Published } from "../flakes/fixtures.js";
import { inputTarget } from "../../src/inputs/locked.js";
import { makeContext } from "../../src/base/context.js";

let data: Published;
let root: string;
beforeAll(() => {
  root = tempDir("newcomer-inputs-");
  data = publish(join(root), "data", { "data.txt": "data one\n", "sub/x.txt": "x\n" });
  git(data.work.dir, "tag", "v1");
  data.work.push(data.bare);
  data.advance();
});

describe("a relative input url", () => {
  test("is locked as written and resolved against the lock's directory: a copy of the project elsewhere runs its locked commit, also --frozen", async () => {
    const parent = tempDir("newcomer-move-");
    cpSync(data.bare, join(parent, "repos", "data"), { recursive: true });
    const dir = writeTree({ "main.ts": inputsScript(`{ data: { url: "../repos/data", ref: "v1" } }`) }, join(parent, "proj"));
    const first = await runTsexec([join(dir, "main.ts")]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).data.rev).toBe(data.commits[0]);
    expect(readLockJson(dir).inputs["main.ts"].data).toMatchObject({ source: "../repos/data", url: "../repos/data", ref: "v1", rev: data.commits[0] });

    // The clone: another place, where the tag has since moved.
    const moved = tempDir("newcomer-moved-");
    cpSync(parent, moved, { recursive: true });
    git(join(moved, "repos", "data"), "tag", "-f", "v1", data.commits[1]!);
    const frozen = await runTsexec(["--frozen", join(moved, "proj", "main.ts")]);
    expect(frozen.stderr).toBe("");
    expect(frozen.code).toBe(0);
    expect(JSON.parse(frozen.stdout).data.rev).toBe(data.commits[0]);
    const plain = await runTsexec([join(moved, "proj", "main.ts")]);
    expect(plain.stderr).toBe("");
    expect(JSON.parse(plain.stdout).data.rev).toBe(data.commits[0]);
  });
});

describe("the object form of an input", () => {
  test.each([
    ["git+file:// with ref", () => `{ url: "git+${pathToFileURL(data.bare).href}", ref: "v1" }`],
    ["git+file:// with ?ref= in the url", () => `{ url: "git+${pathToFileURL(data.bare).href}?ref=v1", submodules: false }`],
    ["git+file:// with dir: \".\"", () => `{ url: "git+${pathToFileURL(data.bare).href}", ref: "v1", dir: "." }`],
  ])("accepts %s", async (_name, declared) => {
    const dir = writeTree({ "main.ts": inputsScript(`{ data: ${declared()} }`) });
    const r = await runTsexec([join(dir, "main.ts")]);
    expect(r.stderr).toMatch(/^tsexec: locked main\.ts's input data at [0-9a-f]{40}: wrote /);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).data.rev).toBe(data.commits[0]);
    expect(readLockJson(dir).inputs["main.ts"].data).toMatchObject({ url: pathToFileURL(data.bare).href, ref: "v1", rev: data.commits[0] });
  });

  test("dir \".\" is the checkout itself", async () => {
    const dir = writeTree({
      "main.ts": `import { readFileSync } from "node:fs";
import { defineScript } from "tsexec";
export const inputs = { data: { url: "${data.url}", ref: "v1", dir: "." } };
export default defineScript(inputs, ({ inputs, lib }) => lib.io(() => console.log(readFileSync(\`\${inputs.data}/data.txt\`, "utf8").trim())));
`,
    });
    const r = await runTsexec([join(dir, "main.ts")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("data one\n");
  });

  test("a ref given twice, differently, is one error naming both", async () => {
    const dir = writeTree({ "main.ts": inputsScript(`{ data: { url: "git+${pathToFileURL(data.bare).href}?ref=v1", ref: "main" } }`) });
    const r = await runTsexec([join(dir, "main.ts")]);
    expect(r.stderr).toBe(`error: input 'data' of main.ts (${join(dir, "main.ts")}:3): 'git+${pathToFileURL(data.bare).href}?ref=v1' gives ref 'v1' and the ref field 'main': keep one\n`);
    expect(r.code).toBe(1);
  });
});

describe("the object form's remote references (read, not fetched: no network in tests)", () => {
  const target = (spec: Record<string, unknown>) => inputTarget("tools", { spec: spec as never, line: 3 }, "/p/main.ts", makeContext({ cacheDir: tempDir("cache-") }));

  test("github: and git+https:// are the repositories the string form names, their ?ref=/?dir= taken as fields", () => {
    expect(target({ url: "github:acme/tools", ref: "v1" })).toMatchObject({ url: "https://github.com/acme/tools.git", lockedUrl: "https://github.com/acme/tools.git", ref: "v1", dir: "", source: "github:acme/tools" });
    expect(target({ url: "github:acme/tools/v2?dir=lib" })).toMatchObject({ url: "https://github.com/acme/tools.git", ref: "v2", dir: "lib" });
    expect(target({ url: "git+https://example.org/acme/tools.git?ref=main", submodules: false })).toMatchObject({ url: "https://example.org/acme/tools.git", ref: "main", submodules: false });
  });

  test("a relative path is locked as written; an absolute one as its canonical path", () => {
    expect(target({ url: "../repos/tools", ref: "v1" })).toMatchObject({ url: "/repos/tools", lockedUrl: "../repos/tools" });
    expect(target({ url: "/srv/tools", ref: "v1" })).toMatchObject({ url: "/srv/tools", lockedUrl: "/srv/tools" });
  });
});
