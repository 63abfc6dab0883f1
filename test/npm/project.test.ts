/** The project form: a package.json with a package-lock.json installs exactly the locked tree into the store. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";
import { npmEnv, packageLock, startRegistry, type Registry } from "./registry.js";

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry([
    { name: "left-pad", version: "1.3.0", files: { "index.js": "module.exports = (s, n) => String(s).padStart(n, '.') + require('pad-core');\n" }, dependencies: { "pad-core": "^1.0.0" } },
    { name: "pad-core", version: "1.0.0" },
    { name: "pad-core", version: "2.0.0" },
    { name: "uses-core-2", version: "1.0.0", files: { "index.js": "module.exports = require('pad-core');\n" }, dependencies: { "pad-core": "^2.0.0" } },
    { name: "dev-only", version: "1.0.0" },
    { name: "with-script", version: "1.0.0", scripts: { postinstall: "echo built > built.txt" }, files: { "index.js": "const fs = require('fs'); module.exports = fs.existsSync(__dirname + '/built.txt') ? 'scripts ran' : 'scripts skipped';\n" } },
    { name: "native-tool", version: "1.0.0", optionalDependencies: { "native-tool-linux-x64": "1.0.0", "native-tool-darwin-arm64": "1.0.0" }, files: { "index.js": "let b; try { b = require('native-tool-linux-x64'); } catch { b = require('native-tool-darwin-arm64'); } module.exports = 'binary: ' + b;\n" } },
    { name: "native-tool-linux-x64", version: "1.0.0", os: ["linux"], cpu: ["x64"] },
    { name: "native-tool-darwin-arm64", version: "1.0.0", os: ["darwin"], cpu: ["arm64"] },
    // What yargs and app-root-path do: the app's package.json is the one above the node_modules the package
    // was installed in (here a package with no dependencies, which a tree once linked into the store).
    {
      name: "app-version",
      version: "1.0.0",
      files: {
        "index.js":
          "const fs = require('fs');\nconst root = __dirname.substring(0, __dirname.lastIndexOf('node_modules'));\n" +
          "module.exports = fs.existsSync(root + 'package.json') ? JSON.parse(fs.readFileSync(root + 'package.json', 'utf8')).version : 'no package.json at ' + root;\n",
      },
    },
  ]);
});
afterAll(() => registry.close());

const script = `import pad from "left-pad";\nimport other from "uses-core-2";\nexport default ({ lib }: any) => lib.task(async () => console.log(pad("x", 3), other));\n`;

function project(dir: string = tempDir("project-")): string {
  return writeTree(
    {
      "package.json": JSON.stringify({ name: "project", version: "1.0.0", dependencies: { "left-pad": "^1.3.0", "uses-core-2": "^1" }, devDependencies: { "dev-only": "1" } }),
      "package-lock.json": packageLock(registry, { dependencies: { "left-pad": "^1.3.0", "uses-core-2": "^1" }, devDependencies: { "dev-only": "1" } }, {
        "node_modules/left-pad": { name: "left-pad", version: "1.3.0" },
        "node_modules/pad-core": { name: "pad-core", version: "1.0.0" },
        "node_modules/uses-core-2": { name: "uses-core-2", version: "1.0.0" },
        "node_modules/uses-core-2/node_modules/pad-core": { name: "pad-core", version: "2.0.0" },
        "node_modules/dev-only": { name: "dev-only", version: "1.0.0", dev: true },
      }),
      "bin/tool.ts": script,
    },
    dir,
  );
}

describe("project form", () => {
  it("a local directory with package.json and package-lock.json runs without npm ci, devDependencies left out", async () => {
    const dir = project();
    registry.requests.length = 0;
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(dir, "bin/tool.ts")], { env: npmEnv(registry.url), cacheDir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("..xpad-core@1.0.0 pad-core@2.0.0\n");
    expect(registry.requests.sort()).toEqual([
      "GET /left-pad/-/left-pad-1.3.0.tgz",
      "GET /pad-core/-/pad-core-1.0.0.tgz",
      "GET /pad-core/-/pad-core-2.0.0.tgz",
      "GET /uses-core-2/-/uses-core-2-1.0.0.tgz",
    ]);
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
    // Warm: no request; a changed lock is noticed by its stamp.
    registry.requests.length = 0;
    expect((await runTsexec([join(dir, "bin/tool.ts")], { env: npmEnv(registry.url), cacheDir })).stdout).toBe(out.stdout);
    expect(registry.requests).toEqual([]);
    // A second project with the same lock shares the tree: nothing fetched, one tree.
    const twin = project();
    expect((await runTsexec([join(twin, "bin/tool.ts")], { env: npmEnv(registry.url), cacheDir })).stdout).toBe(out.stdout);
    expect(registry.requests).toEqual([]);
    expect(readdirSync(join(cacheDir, "npm", "trees")).filter((n) => !n.startsWith("."))).toHaveLength(1);
    // Another lock sharing two packages: a second tree, nothing downloaded again.
    const other = writeTree({
      "package.json": JSON.stringify({ name: "other", version: "1.0.0", dependencies: { "left-pad": "^1.3.0" } }),
      "package-lock.json": packageLock(registry, { dependencies: { "left-pad": "^1.3.0" } }, {
        "node_modules/left-pad": { name: "left-pad", version: "1.3.0" },
        "node_modules/pad-core": { name: "pad-core", version: "1.0.0" },
      }),
      "t.ts": `import pad from "left-pad";\nexport default ({ lib }: any) => lib.task(async () => console.log(pad("q", 2)));\n`,
    });
    expect((await runTsexec([join(other, "t.ts")], { env: npmEnv(registry.url), cacheDir })).stdout).toBe(".qpad-core@1.0.0\n");
    expect(registry.requests).toEqual([]);
    expect(readdirSync(join(cacheDir, "npm", "trees")).filter((n) => !n.startsWith("."))).toHaveLength(2);
  });

  it("a node_modules beside the script is used as today", async () => {
    const dir = project();
    writeTree({ "node_modules/left-pad/index.js": "module.exports = () => 'local';\n", "node_modules/uses-core-2/index.js": "module.exports = 'local2';\n" }, dir);
    const out = await runTsexec([join(dir, "bin/tool.ts")], { env: npmEnv("http://127.0.0.1:9") });
    expect(out.stdout).toBe("local local2\n");
  });

  it("runs from a git reference (a fixture repository over file://)", async () => {
    const work = WorkRepo.create();
    project(work.dir);
    const commit = work.commit("project");
    const out = await runTsexec([`git+file://${work.dir}?rev=${commit}#bin/tool.ts`], { env: npmEnv(registry.url) });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("..xpad-core@1.0.0 pad-core@2.0.0\n");
  });

  it("lib.import of fetched code installs that code's locked packages", async () => {
    const work = WorkRepo.create();
    project(work.dir);
    work.write({ "bin/lib.ts": `import pad from "left-pad";\nexport default (lib: any) => lib.task(async () => console.log(pad("y", 2)));\n` });
    const commit = work.commit("project");
    const dir = writeTree({
      "main.ts": `export default ({ lib }: any) => lib.bind(lib.builtins.fetchgit({ url: ${JSON.stringify(`file://${work.dir}`)}, rev: ${JSON.stringify(commit)} }), (src: string) => lib.bind(lib.import(src + "/bin/lib.ts"), (f: any) => f(lib)));\n`,
    });
    const out = await runTsexec([join(dir, "main.ts")], { env: npmEnv(registry.url) });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(".ypad-core@1.0.0\n");
  });

  it("install scripts are skipped and named; --allow-scripts and package.json's tsexec.allowScripts run them", async () => {
    const files = (allow?: string[]) => ({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "with-script": "1" }, ...(allow ? { tsexec: { allowScripts: allow } } : {}) }),
      "package-lock.json": packageLock(registry, { dependencies: { "with-script": "1" } }, { "node_modules/with-script": { name: "with-script", version: "1.0.0", hasInstallScript: true } }),
      "t.ts": `import w from "with-script";\nexport default ({ lib }: any) => lib.task(async () => console.log(w));\n`,
    });
    const dir = writeTree(files());
    const skipped = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(skipped.stdout).toBe("scripts skipped\n");
    expect(skipped.stderr).toBe(
      `tsexec: install scripts not run for with-script@1.0.0 (allow them with --allow-scripts=with-script, or "tsexec": { "allowScripts": [...] } in package.json)\n`,
    );
    const cacheDir = tempDir("cache-");
    const allowed = await runTsexec(["--allow-scripts=with-script", join(dir, "t.ts")], { env: npmEnv(registry.url), cacheDir });
    expect(allowed.stdout).toBe("scripts ran\n");
    // The store's copy is untouched by the script: it ran in the tree's own copy.
    const stored = readdirSync(join(cacheDir, "npm", "packages")).find((n) => n.startsWith("with-script@"))!;
    expect(existsSync(join(cacheDir, "npm", "packages", stored, "built.txt"))).toBe(false);
    const byField = writeTree(files(["with-script"]));
    expect((await runTsexec([join(byField, "t.ts")], { env: npmEnv(registry.url) })).stdout).toBe("scripts ran\n");
  });

  it("optional platform packages: only this platform's is installed", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "native-tool": "1" } }),
      "package-lock.json": packageLock(registry, { dependencies: { "native-tool": "1" } }, {
        "node_modules/native-tool": { name: "native-tool", version: "1.0.0" },
        "node_modules/native-tool-linux-x64": { name: "native-tool-linux-x64", version: "1.0.0", optional: true, os: ["linux"], cpu: ["x64"] },
        "node_modules/native-tool-darwin-arm64": { name: "native-tool-darwin-arm64", version: "1.0.0", optional: true, os: ["darwin"], cpu: ["arm64"] },
      }),
      "t.ts": `import n from "native-tool";\nexport default ({ lib }: any) => lib.task(async () => console.log(n));\n`,
    });
    registry.requests.length = 0;
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(out.stdout).toBe(`binary: native-tool-${process.platform}-${process.arch}@1.0.0\n`);
    expect(registry.requests.some((r) => r.includes("darwin"))).toBe(process.platform === "darwin");
  });

  it("the installed tree carries the project's package.json above its node_modules, as a local install has it", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "project", version: "4.5.6", dependencies: { "app-version": "1" } }),
      "package-lock.json": packageLock(registry, { dependencies: { "app-version": "1" } }, {
        "node_modules/app-version": { name: "app-version", version: "1.0.0" },
      }),
      "tool.ts": `import version from "app-version";\nexport default ({ lib }: any) => lib.io(() => console.log("app", version));\n`,
    });
    const out = await runTsexec([join(dir, "tool.ts")], { env: npmEnv(registry.url), cacheDir: tempDir("cache-") });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("app 4.5.6\n");
  });

  it("a package.json without a lock runs after one warning; --pinned-only refuses it", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "left-pad": "^1.0.0" } }),
      "t.ts": `import pad from "left-pad";\nexport default ({ lib }: any) => lib.task(async () => console.log(pad("z", 2)));\n`,
    });
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(out.stdout).toBe(".zpad-core@1.0.0\n");
    expect(out.stderr).toMatch(/^tsexec: warning: the dependencies of .*package\.json are not pinned \(no package-lock\.json\)[^\n]*\n$/);
    const refused = await runTsexec(["--pinned-only", join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: refusing .*package\.json: its dependencies are not pinned .*--pinned-only/);
  });

  it("without a lock, dependencies resolved at once agree: each packument fetched once, two majors of one package kept apart", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "left-pad": "^1.0.0", "uses-core-2": "^1", "pad-core": "^1" } }),
      "t.ts": `import pad from "left-pad";\nimport other from "uses-core-2";\nimport core from "pad-core";\nexport default ({ lib }: any) => lib.io(() => console.log(pad("z", 2), other, core));\n`,
    });
    registry.requests.length = 0;
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(out.stdout).toBe(".zpad-core@1.0.0 pad-core@2.0.0 pad-core@1.0.0\n");
    const packuments = registry.requests.filter((r) => !r.endsWith(".tgz")).sort();
    expect(packuments).toEqual(["GET /left-pad", "GET /pad-core", "GET /uses-core-2"]);
  });

  it("a bare package nobody provides gets advice that fits, never `npm install npm:…`", async () => {
    const lone = writeTree({ "t.ts": `import x from "picocolors-missing";\nexport default ({ lib }: any) => lib.unit(x);\n` });
    const out = await runTsexec([join(lone, "t.ts")], { env: npmEnv(registry.url) });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: cannot find package 'picocolors-missing' imported from .*t\.ts: install it next to the script \(npm install picocolors-missing\), or import it as "npm:picocolors-missing@<range>"/);
    expect(out.stderr).not.toContain("npm install npm:");
    // In a read-only checkout, installing next to the script is not advice anyone can follow.
    const work = WorkRepo.create();
    const commit = work.commit("tool", { "t.ts": `import x from "picocolors-missing";\nexport default ({ lib }: any) => lib.unit(x);\n` });
    const remote = await runTsexec([`git+file://${work.dir}?rev=${commit}#t.ts`], { env: npmEnv(registry.url) });
    expect(remote.stderr).toMatch(/^error: cannot find package 'picocolors-missing' imported from .*t\.ts: the repository has no package\.json with a package-lock\.json that lists it; import it as "npm:picocolors-missing@<range>" in the script\n$/);
    const dir = project();
    writeFileSync(join(dir, "bin/other.ts"), `import x from "not-in-lock";\nexport default ({ lib }: any) => lib.unit(x);\n`);
    const notLocked = await runTsexec([join(dir, "bin/other.ts")], { env: npmEnv(registry.url) });
    expect(notLocked.stderr).toMatch(/^error: cannot find package 'not-in-lock' imported from .*: it is not in .*package-lock\.json: add it to .*package\.json \(npm install not-in-lock\) and commit the lock\n$/);
  });

  it("fp-ts and tsexec resolve to tsexec's own copy from any directory", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ type: "module" }),
      "t.ts": `import { pipe } from "fp-ts/function";\nimport * as RA from "fp-ts/ReadonlyArray";\nimport { Applicative } from "tsexec";\nexport default ({ lib }: any) => lib.task(async () => console.log(pipe([1, 2], RA.map((n: number) => n * 2)).join(","), typeof Applicative));\n`,
    });
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv("http://127.0.0.1:9") });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("2,4 object\n");
  });

  it("a lock without integrity, or with a git dependency, is refused naming the entry", async () => {
    const dir = project();
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
    delete lock.packages["node_modules/left-pad"].integrity;
    writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lock));
    const out = await runTsexec([join(dir, "bin/tool.ts")], { env: npmEnv(registry.url) });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: .*package-lock\.json: "packages"\."node_modules\/left-pad" has no integrity/);
  });
});

describe("a lock that nests a package under one without dependencies", () => {
  it("gets a real directory there, never writing through into the store", async () => {
    const dir = writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "pad-core": "1" } }),
      "package-lock.json": packageLock(registry, { dependencies: { "pad-core": "1" } }, {
        "node_modules/pad-core": { name: "pad-core", version: "1.0.0" },
        "node_modules/pad-core/node_modules/dev-only": { name: "dev-only", version: "1.0.0" },
      }),
      "t.ts": `import c from "pad-core";\nexport default ({ lib }: any) => lib.task(async () => console.log(c));\n`,
    });
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url), cacheDir });
    expect(out.stdout).toBe("pad-core@1.0.0\n");
    const stored = readdirSync(join(cacheDir, "npm", "packages")).find((n) => n.startsWith("pad-core@"))!;
    expect(readdirSync(join(cacheDir, "npm", "packages", stored)).sort()).toEqual(["index.js", "package.json"]);
  });
});

describe("a cache directory that cannot hold the store", () => {
  it("is one error naming the path, not a raw Node error", async () => {
    const dir = project();
    const cacheDir = tempDir("cache-");
    writeFileSync(join(cacheDir, "npm"), "a file where the store's directory goes\n");
    const out = await runTsexec([join(dir, "bin/tool.ts")], { env: npmEnv(registry.url), cacheDir });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: cannot install npm packages into .*\/npm\/trees\/\w+ \((ENOTDIR|EEXIST)\): make the cache directory writable, or choose another with --cache-dir/);
    expect(out.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  });
});
