/**
 * Install scripts as npm runs them: npm's default `node-gyp rebuild` for a
 * package with a binding.gyp (a real Node-API addon compiled with cc, with the
 * user's nodedir), and `node_modules/.bin` links that scripts call.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binsOf } from "../../src/runtime/npm/bins.js";
import { loadNpmConfig } from "../../src/runtime/npm/config.js";
import { findNodeGyp, installScripts, scriptPath } from "../../src/runtime/npm/scripts.js";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, packageLock, startRegistry, type Registry } from "./registry.js";

const addonSource = `#include <node_api.h>

static napi_value add(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  double a = 0, b = 0;
  napi_value sum;
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  napi_get_value_double(env, args[0], &a);
  napi_get_value_double(env, args[1], &b);
  napi_create_double(env, a + b, &sum);
  return sum;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "add", NAPI_AUTO_LENGTH, add, NULL, &fn);
  napi_set_named_property(env, exports, "add", fn);
  return exports;
}
`;

const genTool = (version: string) => ({
  name: "gen-tool",
  version,
  bin: { "gen-tool": "cli.js" },
  // Packed without its execute bit (the registry's tarballs are 0644): npm, and tsexec, make it executable.
  files: { "cli.js": `#!/usr/bin/env node\nrequire("fs").writeFileSync("generated.txt", "made by gen-tool ${version} " + process.argv[2]);\n` },
});

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry([
    {
      name: "adder",
      version: "1.0.0",
      files: {
        "binding.gyp": JSON.stringify({ targets: [{ target_name: "adder", sources: ["adder.c"] }] }),
        "adder.c": addonSource,
        "index.js": "let addon = null;\ntry { addon = require('./build/Release/adder.node'); } catch {}\nmodule.exports = addon;\n",
      },
    },
    genTool("1.0.0"),
    genTool("2.0.0"),
    {
      name: "uses-gen",
      version: "1.0.0",
      dependencies: { "gen-tool": "^2.0.0" },
      scripts: { postinstall: "gen-tool hello" },
      files: { "index.js": "const fs = require('fs'); module.exports = fs.existsSync(__dirname + '/generated.txt') ? fs.readFileSync(__dirname + '/generated.txt', 'utf8') : 'not generated';\n" },
    },
    { name: "evil-bin", version: "1.0.0", bin: { evil: "../../../../../../tmp/evil" } },
  ]);
});
afterAll(() => registry.close());

/** Node's headers as node-gyp takes them (`nodedir`): the user's npm setting, else the running Node's own installation. */
function nodeHeaders(): string | undefined {
  const candidates = [loadNpmConfig(undefined).setting("nodedir"), dirname(dirname(realpathSync(process.execPath)))];
  return candidates.find((dir): dir is string => dir !== undefined && existsSync(join(dir, "include", "node", "common.gypi")));
}

/**
 * The environment of a run: an isolated HOME whose .npmrc holds `settings`,
 * no npm setting inherited from the npm running the tests, and a Node mirror
 * that refuses connections, so a node-gyp that wanted headers fails at once
 * instead of reaching the network.
 */
function env(settings: string): Record<string, string | undefined> {
  const home = tempDir("npm-home-");
  writeFileSync(join(home, ".npmrc"), settings);
  const inherited = Object.fromEntries(Object.keys(process.env).filter((k) => /^npm_config_/i.test(k)).map((k) => [k, undefined]));
  return { ...inherited, ...npmEnv(registry.url, home), NODEJS_ORG_MIRROR: "http://127.0.0.1:9", NODEJS_MIRROR: "http://127.0.0.1:9" };
}

function adderProject(allow: boolean): string {
  return writeTree({
    "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { adder: "1" }, ...(allow ? { tsexec: { allowScripts: ["adder"] } } : {}) }),
    // npm's lock says hasInstallScript for a package with a binding.gyp.
    "package-lock.json": packageLock(registry, { dependencies: { adder: "1" } }, { "node_modules/adder": { name: "adder", version: "1.0.0", hasInstallScript: true } }),
    "t.ts": `import adder from "adder";\nexport default ({ lib }: any) => lib.task(async () => console.log(adder ? adder.add(2, 3) : "not built"));\n`,
  });
}

const trees = (cacheDir: string) => readdirSync(join(cacheDir, "npm", "trees")).filter((n) => !n.startsWith(".") && !n.endsWith(".lock"));

describe("a package with a binding.gyp and no install script", () => {
  it("is built by npm's default node-gyp rebuild when allowed, with the nodedir of .npmrc; the script calls the addon", async (ctx) => {
    const nodedir = nodeHeaders();
    ctx.skip(
      nodedir === undefined,
      "no Node headers on this machine (neither npm's nodedir setting nor include/node/common.gypi beside the running node): node-gyp would download them, and tests never touch the network",
    );
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(adderProject(true), "t.ts")], { env: env(`nodedir=${nodedir}\n`), cacheDir });
    expect(out.stdout).toBe("5\n");
    expect(out.code).toBe(0);
    expect(out.stderr).not.toContain("install scripts not run");
    // Built in the tree's own copy, never in the shared store.
    const [tree] = trees(cacheDir);
    expect(existsSync(join(cacheDir, "npm", "trees", tree!, "node_modules", "adder", "build", "Release", "adder.node"))).toBe(true);
    const stored = readdirSync(join(cacheDir, "npm", "packages")).find((n) => n.startsWith("adder@"))!;
    expect(readdirSync(join(cacheDir, "npm", "packages", stored)).sort()).toEqual(["adder.c", "binding.gyp", "index.js", "package.json"]);
  });

  it("without a nodedir, node-gyp wants headers from the network: the install fails naming the package, and no tree is kept", async () => {
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(adderProject(true), "t.ts")], { env: env(""), cacheDir });
    expect(out.code).toBe(1);
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/\nerror: the install script of adder@1\.0\.0 \(node-gyp rebuild\) exited with 1; nothing was installed\n$/);
    expect(trees(cacheDir)).toEqual([]);
  });

  it("is listed among the skipped packages when not allowed", async () => {
    const out = await runTsexec([join(adderProject(false), "t.ts")], { env: env("") });
    expect(out.stdout).toBe("not built\n");
    expect(out.stderr).toBe(`tsexec: install scripts not run for adder@1.0.0 (allow them with --allow-scripts=adder, or "tsexec": { "allowScripts": [...] } in package.json)\n`);
  });

  it("is one error naming the package when the node-gyp npm's config names does not exist", async () => {
    const out = await runTsexec(["--allow-scripts=adder", join(adderProject(false), "t.ts")], { env: env("node-gyp=/nonexistent/node-gyp.js\n") });
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      "error: adder@1.0.0 has a binding.gyp and no install script, so npm's default one builds it (node-gyp rebuild), but npm's node-gyp setting names /nonexistent/node-gyp.js, which is not a file: install npm, or set node-gyp=<path to node-gyp.js> in .npmrc; nothing was installed\n",
    );
  });
});

describe("node_modules/.bin", () => {
  const usesGenScript = `import g from "uses-gen";\nexport default ({ lib }: any) => lib.task(async () => console.log(g));\n`;

  it("links packages' bins, so an allowed install script calls a dependency's tool (its own version first, as npm's PATH has it)", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "uses-gen": "1", "gen-tool": "1" }, tsexec: { allowScripts: ["uses-gen"] } }),
      "package-lock.json": packageLock(registry, { dependencies: { "uses-gen": "1", "gen-tool": "1" } }, {
        "node_modules/gen-tool": { name: "gen-tool", version: "1.0.0" },
        "node_modules/uses-gen": { name: "uses-gen", version: "1.0.0", hasInstallScript: true },
        "node_modules/uses-gen/node_modules/gen-tool": { name: "gen-tool", version: "2.0.0" },
      }),
      "t.ts": usesGenScript,
    });
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(dir, "t.ts")], { env: env(""), cacheDir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("made by gen-tool 2.0.0 hello\n");
    const tree = join(cacheDir, "npm", "trees", trees(cacheDir)[0]!);
    expect(readlinkSync(join(tree, "node_modules", ".bin", "gen-tool"))).toBe("../gen-tool/cli.js");
    expect(readlinkSync(join(tree, "node_modules", "uses-gen", "node_modules", ".bin", "gen-tool"))).toBe("../gen-tool/cli.js");
    expect(lstatSync(join(tree, "node_modules", "gen-tool", "cli.js")).mode & 0o111).toBe(0o111);
  });

  it("links them in a tsexec.lock tree too (npm: specifiers)", async () => {
    const dir = writeTree({ "t.ts": usesGenScript.replace('"uses-gen"', '"npm:uses-gen@1"') });
    const out = await runTsexec(["--allow-scripts=uses-gen", join(dir, "t.ts")], { env: env("") });
    expect(out.stderr).toMatch(/^tsexec: locked npm:uses-gen@1 at uses-gen@[\d.]+: wrote .*tsexec\.lock\n$/);
    expect(out.stdout).toBe("made by gen-tool 2.0.0 hello\n");
  });

  it("refuses a bin leading out of its package, naming the package", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "evil-bin": "1" } }),
      "package-lock.json": packageLock(registry, { dependencies: { "evil-bin": "1" } }, { "node_modules/evil-bin": { name: "evil-bin", version: "1.0.0" } }),
      "t.ts": `import e from "evil-bin";\nexport default ({ lib }: any) => lib.task(async () => console.log(e));\n`,
    });
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(dir, "t.ts")], { env: env(""), cacheDir });
    expect(out.code).toBe(1);
    expect(out.stderr).toBe("error: evil-bin@1.0.0: its bin 'evil' points at '../../../../../../tmp/evil', outside the package: tsexec refuses to link it\n");
    expect(trees(cacheDir)).toEqual([]);
  });
});

describe("units", () => {
  it("binsOf: npm's two forms; names that are not file names and paths out of the package are refused", () => {
    expect(binsOf({ bin: "cli.js" }, "@scope/tool", "w")).toEqual([{ name: "tool", target: "cli.js" }]);
    expect(binsOf({ bin: { a: "./bin/a.js", b: "lib/../b.js", c: 3 } }, "x", "w")).toEqual([
      { name: "a", target: "bin/a.js" },
      { name: "b", target: "b.js" },
    ]);
    expect(binsOf({}, "x", "w")).toEqual([]);
    for (const target of ["../x", "/etc/passwd", "a/../../x", "..", ".", "", "..\\..\\x"]) {
      expect(() => binsOf({ bin: { a: target } }, "x", "x@1.0.0"), target).toThrow(/^x@1\.0\.0: its bin 'a' points at .*, outside the package/);
    }
    for (const name of ["", ".", "..", "a/b", "a\\b", "a\nb"]) {
      expect(() => binsOf({ bin: { [name]: "cli.js" } }, "x", "x@1.0.0"), name).toThrow(/^x@1\.0\.0: its package\.json declares the bin '.*', which is not a file name/);
    }
  });

  it("installScripts: npm's default node-gyp rebuild only with a binding.gyp, no install and no preinstall, and gypfile not false", () => {
    const pkg = (manifest: object, gyp = true) => writeTree({ "package.json": JSON.stringify(manifest), ...(gyp ? { "binding.gyp": "{}" } : {}) });
    expect(installScripts(pkg({}))).toEqual([{ event: "install", script: "node-gyp rebuild" }]);
    expect(installScripts(pkg({ scripts: { postinstall: "p" } }))).toEqual([
      { event: "install", script: "node-gyp rebuild" },
      { event: "postinstall", script: "p" },
    ]);
    expect(installScripts(pkg({ scripts: { install: "own" } }))).toEqual([{ event: "install", script: "own" }]);
    expect(installScripts(pkg({ scripts: { preinstall: "pre" } }))).toEqual([{ event: "preinstall", script: "pre" }]);
    expect(installScripts(pkg({ gypfile: false }))).toEqual([]);
    expect(installScripts(pkg({}, false))).toEqual([]);
  });

  it("findNodeGyp: the setting, else npm's bundled copy beside npm_execpath, the running Node, or an npm on PATH; else says where it looked", () => {
    const prefix = tempDir("prefix-");
    const bundled = join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
    writeTree({ [bundled.slice(prefix.length + 1)]: "", "lib/node_modules/npm/bin/npm-cli.js": "", "bin/node": "" }, prefix);
    const none = tempDir("empty-");
    const node = join(none, "bin", "node");
    expect(findNodeGyp(undefined, { PATH: none }, join(prefix, "bin", "node"))).toEqual({ found: bundled });
    expect(findNodeGyp(undefined, { PATH: none, npm_execpath: join(prefix, "lib/node_modules/npm/bin/npm-cli.js") }, node)).toEqual({ found: bundled });
    const pathDir = tempDir("path-");
    mkdirSync(join(pathDir, "bin"));
    symlinkSync(join(prefix, "lib/node_modules/npm/bin/npm-cli.js"), join(pathDir, "bin", "npm"));
    expect(findNodeGyp(undefined, { PATH: [none, join(pathDir, "bin")].join(delimiter) }, node)).toEqual({ found: bundled });
    expect(findNodeGyp(undefined, { PATH: none }, node)).toEqual({ missing: `no node-gyp was found (npm bundles one; looked beside ${node} and each npm on PATH)` });
    expect(findNodeGyp(bundled, {}, node)).toEqual({ found: bundled });
    expect(findNodeGyp("/nope/node-gyp.js", {}, node)).toEqual({ missing: "npm's node-gyp setting names /nope/node-gyp.js, which is not a file" });
  });

  it("scriptPath: node_modules/.bin of the package and of each directory above it, up to the tree", () => {
    expect(scriptPath("/t/node_modules/a/node_modules/b", "/t")).toEqual([
      "/t/node_modules/a/node_modules/b/node_modules/.bin",
      "/t/node_modules/a/node_modules/node_modules/.bin",
      "/t/node_modules/a/node_modules/.bin",
      "/t/node_modules/node_modules/.bin",
      "/t/node_modules/.bin",
    ]);
  });

  it("scriptEnv: the config files' settings as npm_config_*, environment first, never credentials or scopes", () => {
    const home = writeTree({
      ".npmrc": "nodedir=/opt/node\npython = /usr/bin/python3\n//reg.example/:_authToken=secret\n_auth=c2VjcmV0\n@corp:registry=https://corp.example/\nnode-gyp=/x/node-gyp.js\n",
    });
    const config = loadNpmConfig(undefined, { HOME: home, npm_config_python: "/env/python" });
    expect(config.scriptEnv()).toEqual({ npm_config_nodedir: "/opt/node", npm_config_python: "/env/python", npm_config_node_gyp: "/x/node-gyp.js" });
    expect(config.setting("node-gyp")).toBe("/x/node-gyp.js");
  });
});
