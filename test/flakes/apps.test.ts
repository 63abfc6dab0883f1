/** Apps by name (package.json bin), remote and local, and what `tsexec show` lists. */
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { root, runTsexec, tempDir, writeTree } from "../helpers.js";
import { inputsScript, publish, repos, type Published, type Repos } from "./fixtures.js";

let r: Repos;
let single: Published;
beforeAll(() => {
  r = repos();
  single = publish(r.root, "single", {
    "package.json": JSON.stringify({ name: "@acme/single", bin: "main.ts" }),
    "main.ts": `export default ({ args, lib }: any) => lib.io(() => console.log("single " + JSON.stringify(args.slice(1))));\n`,
    "default.ts": `export default ({ lib }: any) => lib.io(() => console.log("not me"));\n`,
  });
});

const pinned = (p: Published, fragment?: string) => `git+${p.url}?rev=${p.commits[0]}${fragment === undefined ? "" : `#${fragment}`}`;

describe("apps by name from a reference", () => {
  test("#name runs the script bin maps it to; a path fragment works as before", async () => {
    const deploy = await runTsexec([pinned(r.tools, "deploy"), "a"]);
    expect(deploy.stderr).toBe("");
    expect(deploy.stdout).toBe(`deploy ["a"]\n`);
    expect((await runTsexec([pinned(r.tools, "check"), "b"])).stdout).toBe(`check ["b"]\n`);
    expect((await runTsexec([pinned(r.tools, "other.ts")])).stdout).toBe("other\n");
    expect((await runTsexec([pinned(r.tools, "scripts/check.ts"), "c"])).stdout).toBe(`check ["c"]\n`);
  });

  test("no fragment: bin's single entry (a string bin is the package's own name), else default.ts", async () => {
    expect((await runTsexec([pinned(single), "x"])).stdout).toBe(`single ["x"]\n`);
    expect((await runTsexec([pinned(single, "single"), "y"])).stdout).toBe(`single ["y"]\n`);
    expect((await runTsexec([pinned(r.tools)])).stdout).toBe("tools default\n");
  });

  test("a name bin does not know is an error listing the apps", async () => {
    const out = await runTsexec([pinned(r.tools, "nope")]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: reference '.*#nope' \(.*\) has no app 'nope': its package.json bin names deploy, check \(a path needs a '\/' or an extension: #.\/nope.ts\)\n$/);
  });

  test("bin entries outside the checkout or naming no file are errors", async () => {
    const bad = publish(tempDir("flakes-root-"), "bad", {
      "package.json": JSON.stringify({ name: "bad", bin: { up: "../outside.ts", abs: "/etc/passwd", gone: "missing.ts", link: "link.ts" } }),
      "x.ts": "export default () => 0;\n",
    });
    bad.advance({});
    const work = bad.work;
    symlinkSync("/etc/hostname", join(work.dir, "link.ts"));
    const commit = work.commit("link");
    work.push(bad.bare);
    const ref = (name: string) => `git+${bad.url}?rev=${commit}#${name}`;
    const up = await runTsexec([ref("up")]);
    expect(up.stderr).toMatch(/^error: reference .*: package.json bin 'up' → '..\/outside.ts' points outside the checkout: bin paths must stay inside it\n$/);
    expect(up.code).toBe(1);
    expect((await runTsexec([ref("abs")])).stderr).toMatch(/^error: .*bin 'abs' → '\/etc\/passwd' points outside the checkout/);
    expect((await runTsexec([ref("gone")])).stderr).toMatch(/^error: .*bin 'gone' → 'missing.ts' names no file: fix the bin entry/);
    expect((await runTsexec([ref("link")])).stderr).toMatch(/^error: .*bin 'link' → 'link.ts' points outside the checkout \(through a symlink to \/etc\/hostname\)\n$/);
  });
});

describe("apps by name in local directories", () => {
  test("./dir#name, .#name, and ./dir alone (bin's single entry)", async () => {
    const base = writeTree({
      "tools/package.json": JSON.stringify({ name: "tools", bin: { deploy: "bin/deploy.ts" } }),
      "tools/bin/deploy.ts": `export default ({ args, lib }: any) => lib.io(() => console.log("local deploy " + JSON.stringify(args)));\n`,
      "tools/default.ts": `export default ({ lib }: any) => lib.io(() => console.log("local default"));\n`,
    });
    expect((await runTsexec(["./tools#deploy", "1"], { cwd: base })).stdout).toBe(`local deploy ["./tools#deploy","1"]\n`);
    expect((await runTsexec([".#deploy"], { cwd: join(base, "tools") })).stdout).toBe(`local deploy [".#deploy"]\n`);
    expect((await runTsexec(["./tools"], { cwd: base })).stdout).toBe(`local deploy ["./tools"]\n`);
    expect((await runTsexec(["./tools#default.ts"], { cwd: base })).stdout).toBe("local default\n");
  });

  test("a local bin entry leading out of the directory is refused", async () => {
    const base = writeTree({
      "tools/package.json": JSON.stringify({ name: "tools", bin: { out: "../evil.ts" } }),
      "evil.ts": `export default ({ lib }: any) => lib.io(() => console.log("escaped"));\n`,
    });
    const out = await runTsexec(["./tools#out"], { cwd: base });
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/^error: '.\/tools': package.json bin 'out' → '..\/evil.ts' points outside the checkout/);
    expect(out.code).toBe(1);
  });
});

describe("tsexec show", () => {
  test("apps (name → script, description), then the other scripts, then each script's inputs and whether they are locked", async () => {
    const work = r.tools.work;
    mkdirSync(join(work.dir, "ci"), { recursive: true });
    const withInputs = publish(tempDir("flakes-root-"), "proj", {
      "package.json": JSON.stringify({ name: "proj", bin: { build: "build.ts" } }),
      "build.ts": `/** Builds it. */\n${inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`)}`,
      "lint.ts": `/** Lints it. */\n${inputsScript(`{ tools: "git+${r.tools.url}?ref=main", data: "git+${r.data.url}?ref=v1" }`)}`,
      "tsexec.lock": `${JSON.stringify(
        {
          inputs: {
            "lint.ts": {
              data: { hash: `sha256-${Buffer.alloc(32).toString("base64")}`, lockedAt: "2026-01-01T00:00:00.000Z", ref: "v1", rev: r.data.commits[0], source: `git+${r.data.url}?ref=v1`, submodules: true, url: r.data.url },
            },
          },
          version: 1,
        },
        null,
        2,
      )}\n`,
    });
    const ref = pinned(withInputs);
    const out = await runTsexec(["show", ref]);
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(
      [
        `${ref} at commit ${withInputs.commits[0]}:`,
        "  apps:",
        "    build → build.ts  (tsexec script)  Builds it.",
        "  scripts:",
        "    lint.ts  Lints it.",
        "  inputs:",
        `    build.ts: data  git+${r.data.url}?ref=v1  not locked`,
        `    lint.ts: tools  git+${r.tools.url}?ref=main  not locked`,
        `    lint.ts: data  git+${r.data.url}?ref=v1  locked at ${r.data.commits[0]}`,
        "",
      ].join("\n"),
    );
    // #app narrows the listing to that app's script.
    const one = await runTsexec(["show", pinned(withInputs, "build")]);
    expect(one.stdout).toContain("  build.ts  Builds it.\n");
    expect(one.stdout).not.toContain("lint.ts  Lints it.");
  });
});

describe("examples/cjson-version.ts", () => {
  test("runs with its input pointed at a local cJSON-like repository, and locks it", async () => {
    const cjson = publish(tempDir("flakes-root-"), "cJSON", {
      "cJSON.h": "#define CJSON_VERSION_MAJOR 1\n#define CJSON_VERSION_MINOR 7\n#define CJSON_VERSION_PATCH 15\n",
    });
    const { execFileSync } = await import("node:child_process");
    execFileSync("git", ["tag", "v1.7.15"], { cwd: cjson.work.dir });
    cjson.work.push(cjson.bare);
    const { readFileSync } = await import("node:fs");
    const source = readFileSync(join(root, "examples", "cjson-version.ts"), "utf8").replace("https://github.com/DaveGamble/cJSON.git", cjson.url);
    const dir = writeTree({ "cjson-version.ts": source });
    const out = await runTsexec([join(dir, "cjson-version.ts")]);
    expect(out.stdout).toMatch(new RegExp(`^cJSON 1\\.7\\.15 at ${cjson.commits[0]} \\(sha256-[A-Za-z0-9+/]{43}=\\)\\n$`));
    expect(out.code).toBe(0);
  });
});
