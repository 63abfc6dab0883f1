/** The registry: add/list/pin/remove, and references and inputs through it. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { inputsScript, project, readLockJson, repos, type Repos } from "./fixtures.js";

let r: Repos;
beforeAll(() => {
  r = repos();
});

/** Runs tsexec with its own config directory (XDG_CONFIG_HOME). */
const withConfig = (config: string) => (args: string[], options: { cwd?: string; cacheDir?: string } = {}) =>
  runTsexec(args, { ...options, env: { XDG_CONFIG_HOME: config } });

describe("tsexec registry", () => {
  test("add, list, references through it (name, name/ref, #app), pin, remove", async () => {
    const config = tempDir("flakes-config-");
    const tsexec = withConfig(config);
    const cwd = tempDir("flakes-cwd-");
    const file = join(config, "tsexec", "registry.json");
    expect((await tsexec(["registry", "list"])).stdout).toBe(`(the registry is empty: ${file}; add an entry with tsexec registry add NAME REFERENCE)\n`);
    const entry = `git+${r.tools.url}?ref=main`;
    const added = await tsexec(["registry", "add", "tools", entry]);
    expect(added.stdout).toBe(`added tools → ${entry}\n`);
    expect(readFileSync(file, "utf8")).toBe(`{\n  "entries": {\n    "tools": "${entry}"\n  },\n  "version": 1\n}\n`);
    expect((await tsexec(["registry", "list"])).stdout).toBe(`tools  ${entry}\n`);

    const byName = await tsexec(["tools#deploy", "a"], { cwd });
    expect(byName.stdout).toBe(`deploy ["a"]\n`);
    // The unpinned warning says what the name resolved to.
    expect(byName.stderr).toBe(
      `tsexec: warning: 'tools#deploy' (registry: ${entry}#deploy) is not pinned: it resolved to commit ${r.tools.commits[0]}; to run exactly this, use git+${r.tools.url}?rev=${r.tools.commits[0]}#deploy\n`,
    );
    const byCommit = await tsexec([`tools/${r.tools.commits[0]}#check`, "b"], { cwd });
    expect(byCommit.stdout).toBe(`check ["b"]\n`);
    expect(byCommit.stderr).toBe("");
    const show = await tsexec(["show", "tools"], { cwd });
    expect(show.stdout.split("\n")[0]).toBe(`tools (registry: ${entry}) at commit ${r.tools.commits[0]}:`);
    expect(show.stdout).toContain("    deploy → deploy.ts        (tsexec script)  Deploys things.\n");

    const pinned = await tsexec(["registry", "pin", "tools"]);
    const pinnedRef = `git+${r.tools.url}?rev=${r.tools.commits[0]}`;
    expect(pinned.stdout).toBe(`pinned tools: ${entry} → ${pinnedRef}\n`);
    expect(JSON.parse(readFileSync(file, "utf8")).entries.tools).toBe(pinnedRef);
    const quiet = await tsexec(["tools#deploy"], { cwd });
    expect(quiet.stderr).toBe("");

    expect((await tsexec(["registry", "remove", "tools"])).stdout).toBe(`removed tools (was ${pinnedRef})\n`);
    expect(JSON.parse(readFileSync(file, "utf8")).entries).toEqual({});
  });

  test("names that are JavaScript object keys are names like any other; printed references are escaped (issue 19)", async () => {
    const config = tempDir("flakes-config-");
    const tsexec = withConfig(config);
    const file = join(config, "tsexec", "registry.json");
    for (const name of ["constructor", "toString", "hasOwnProperty"]) {
      const added = await tsexec(["registry", "add", name, "github:acme/tools"]);
      expect([added.code, added.stdout, added.stderr]).toEqual([0, `added ${name} → github:acme/tools\n`, ""]);
    }
    const changed = await tsexec(["registry", "add", "constructor", "github:acme/other"]);
    expect([changed.code, changed.stdout, changed.stderr]).toEqual([0, "changed constructor: github:acme/tools → github:acme/other\n", ""]);
    expect(JSON.parse(readFileSync(file, "utf8")).entries).toEqual({ constructor: "github:acme/other", hasOwnProperty: "github:acme/tools", toString: "github:acme/tools" });
    const removed = await tsexec(["registry", "remove", "toString"]);
    expect([removed.code, removed.stdout]).toEqual([0, "removed toString (was github:acme/tools)\n"]);
    expect((await tsexec(["registry", "remove", "valueOf"])).stderr).toMatch(/^error: unknown registry name 'valueOf'/);
    const esc = await tsexec(["registry", "add", "esc", "github:acme/tools#a\u001b[31m.ts"]);
    expect(esc.stdout).toBe("added esc → github:acme/tools#a\\x1b[31m.ts\n");
    expect((await tsexec(["registry", "list"])).stdout).not.toContain("\u001b");
  });

  test("inputs may name registry entries; the lock records the URL they expanded to", async () => {
    const config = tempDir("flakes-config-");
    const tsexec = withConfig(config);
    await tsexec(["registry", "add", "data", `git+${r.data.url}?ref=main`]);
    const dir = project({ "main.ts": inputsScript(`{ data: "data", tagged: "data/v1" }`) });
    const out = await tsexec([join(dir, "main.ts")]);
    expect(out.code).toBe(0);
    const lock = readLockJson(dir).inputs["main.ts"];
    expect(lock.data).toMatchObject({ source: "data", url: r.data.url, ref: "main", rev: r.data.commits[0] });
    expect(lock.tagged).toMatchObject({ source: "data/v1", url: r.data.url, ref: "v1", rev: r.data.commits[0] });
  });

  test("a file of the same name wins, with one warning naming the registry entry; ./name is explicit and silent", async () => {
    const config = tempDir("flakes-config-");
    const tsexec = withConfig(config);
    await tsexec(["registry", "add", "tools", `git+${r.tools.url}?ref=main`]);
    const cwd = writeTree({ tools: `export default ({ lib }) => lib.io(() => console.log("the local file"));\n` });
    const shadowed = await tsexec(["tools"], { cwd });
    expect(shadowed.stdout).toBe("the local file\n");
    expect(shadowed.stderr).toBe(
      `tsexec: warning: 'tools' is a file here and also registry entry 'tools' (git+${r.tools.url}?ref=main): running the file; write ./tools to say so, or rename one of them\n`,
    );
    const explicit = await tsexec(["./tools"], { cwd });
    expect(explicit.stdout).toBe("the local file\n");
    expect(explicit.stderr).toBe("");
    // A directory of that name wins too, with its apps.
    const dirCwd = writeTree({
      "tools/package.json": JSON.stringify({ name: "tools", bin: { deploy: "d.ts" } }),
      "tools/d.ts": `export default ({ lib }: any) => lib.io(() => console.log("the local app"));\n`,
    });
    const app = await tsexec(["tools#deploy"], { cwd: dirCwd });
    expect(app.stdout).toBe("the local app\n");
    expect(app.stderr).toBe(
      `tsexec: warning: 'tools#deploy' is a directory here and also registry entry 'tools' (git+${r.tools.url}?ref=main): running the directory; write ./tools#deploy to say so, or rename one of them\n`,
    );
  });

  test("errors: unknown registry name (run, input, remove, pin), a bad name, a bad reference, a corrupt registry", async () => {
    const config = tempDir("flakes-config-");
    const tsexec = withConfig(config);
    const cwd = tempDir("flakes-cwd-");
    const unknown = await tsexec(["nothere#deploy"], { cwd });
    expect(unknown.stderr).toBe(
      `error: cannot find script 'nothere#deploy': no such file or directory, and 'nothere' is not a registry name (the registry is empty; add one with tsexec registry add nothere <reference>)\n`,
    );
    expect(unknown.code).toBe(1);
    const dir = project({ "main.ts": inputsScript(`{ tools: "nothere/v2" }`) });
    const input = await tsexec([join(dir, "main.ts")]);
    expect(input.stderr).toMatch(/^error: unknown registry name 'nothere' in input 'tools' of main.ts \(.*main.ts:3\) \(the registry is empty\)/);
    expect(existsSync(join(dir, "tsexec.lock"))).toBe(false);
    expect((await tsexec(["registry", "remove", "nothere"])).stderr).toMatch(/^error: unknown registry name 'nothere' \(the registry is empty; /);
    expect((await tsexec(["registry", "pin", "nothere"])).code).toBe(1);
    expect((await tsexec(["registry", "add", "bad.name", "github:a/b"])).stderr).toMatch(/^error: 'bad.name' cannot be a registry name/);
    expect((await tsexec(["registry", "add", "x", "not-a-reference"])).stderr).toMatch(/^error: unknown reference form 'not-a-reference'/);
    mkdirSync(join(config, "tsexec"), { recursive: true });
    writeFileSync(join(config, "tsexec", "registry.json"), "{ nope");
    const corrupt = await tsexec(["registry", "list"]);
    expect(corrupt.stderr).toBe(`error: ${join(config, "tsexec", "registry.json")}: the registry is not valid JSON: fix it, or remove it and add the entries again with tsexec registry add\n`);
    expect(corrupt.code).toBe(1);
  });
});
