/**
 * Issue 18: apps that are plain Node programs (npm CLIs, not tsexec scripts)
 * run by name from a git reference, a local directory or the registry, as
 * node runs them from an installed clone; `npm:name` runs a published bin.
 * Fixture repositories are made here (git over file://); their locked
 * dependencies come from a registry this test serves on 127.0.0.1.
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launcher, runTsexec, tempDir, until, writeTree } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";
import { npmEnv, packageLock, startRegistry, type Registry } from "../npm/registry.js";

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry([
    { name: "left-pad", version: "1.3.0", files: { "index.js": "module.exports = (s, n) => String(s).padStart(n, '.');\n" } },
    // What yargs does: the app's package.json is found from the main module's directory upwards.
    {
      name: "app-version",
      version: "1.0.0",
      files: {
        "index.js":
          "const fs = require('fs'), path = require('path');\nmodule.exports = () => { for (let d = path.dirname(require.main.filename); ; d = path.dirname(d)) {\n" +
          "  const f = path.join(d, 'package.json'); if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8')).version; if (d === path.dirname(d)) return 'none'; } };\n",
      },
    },
    { name: "greeter", version: "1.0.0", bin: { greet: "bin/greet.js" }, dependencies: { "left-pad": "^1.3.0" }, files: { "bin/greet.js": greetBin("1.0.0") } },
    { name: "greeter", version: "1.1.0", bin: { greet: "bin/greet.js" }, dependencies: { "left-pad": "^1.3.0" }, files: { "bin/greet.js": greetBin("1.1.0") } },
  ]);
});
afterAll(() => registry.close());

function greetBin(version: string): string {
  return `#!/usr/bin/env node\nconst pad = require("left-pad");\nconsole.log(pad("hi", 4), ${JSON.stringify(version)}, require("path").basename(process.argv[1]), process.argv.slice(2).join(","));\n`;
}

const lockFor = (dependencies: Record<string, string>, entries: Record<string, { name: string; version: string }>) => packageLock(registry, { dependencies }, entries);
const padLock = () => lockFor({ "left-pad": "^1.3.0", "app-version": "1" }, { "node_modules/left-pad": { name: "left-pad", version: "1.3.0" }, "node_modules/app-version": { name: "app-version", version: "1.0.0" } });
const exe = (text: string) => ({ text, executable: true });

/** A CommonJS CLI with dependencies, used from the bin and from lib/; argv, exit code and require.main reported. */
const commonJsCli = {
  "package.json": JSON.stringify({ name: "@acme/pad-cli", version: "2.3.4", bin: { pad: "bin/pad.js", padder: "bin/pad.js" }, dependencies: { "left-pad": "^1.3.0", "app-version": "1" } }),
  "bin/pad.js": exe(
    "#!/usr/bin/env node\nconst path = require('path');\nconst { padAll } = require('../lib/pad.js');\n" +
      "const [name, ...rest] = [path.basename(process.argv[1]), ...process.argv.slice(2)];\n" +
      "console.log(JSON.stringify({ name, args: rest, out: padAll(rest), main: require.main === module, version: require('app-version')(), resolved: require.resolve('left-pad'), nodeIs: process.argv[0] === process.execPath }));\n" +
      "if (rest[0] === 'exit') process.exit(Number(rest[1]));\nprocess.exitCode = rest.length;\n",
  ),
  "lib/pad.js": "const pad = require('left-pad');\nconst { createRequire } = require('module');\nconst again = createRequire(__filename)('left-pad');\nexports.padAll = (xs) => xs.map((x) => pad(x, 5) + (again === pad ? '' : '!'));\n",
};

/** An extensionless CommonJS bin (no "type": Node reads it as CommonJS). */
const extensionless = () => ({
  "package.json": JSON.stringify({ name: "plain-tool", version: "1.0.0", bin: "bin/plain-tool", dependencies: { "left-pad": "^1.3.0" } }),
  "package-lock.json": lockFor({ "left-pad": "^1.3.0" }, { "node_modules/left-pad": { name: "left-pad", version: "1.3.0" } }),
  "bin/plain-tool": exe("#!/usr/bin/env node\nconst pad = require('left-pad');\nconsole.log(pad(typeof require + ':' + process.argv.slice(2).join(' '), 20));\n"),
});

/** An ES module bin importing ../lib/x.js, which imports a dependency. */
const esModule = () => ({
  "package.json": JSON.stringify({ name: "esm-tool", version: "1.0.0", type: "module", bin: { esm: "./bin/cli.js" }, dependencies: { "left-pad": "^1.3.0" } }),
  "package-lock.json": lockFor({ "left-pad": "^1.3.0" }, { "node_modules/left-pad": { name: "left-pad", version: "1.3.0" } }),
  "bin/cli.js": exe("#!/usr/bin/env node\nimport { shout } from '../lib/x.js';\nimport { basename } from 'node:path';\nconsole.log(shout(process.argv.slice(2)), basename(process.argv[1]), typeof require);\nprocess.exitCode = 4;\n"),
  "lib/x.js": "import pad from 'left-pad';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\nexport const shout = (xs) => xs.map((x) => pad(x.toUpperCase(), 4)).join(' ') + ' ' + (require('left-pad') === pad);\n",
});

/** A bin that needs a build step: its file is not committed. */
const needsBuild = {
  "package.json": JSON.stringify({ name: "built-tool", version: "1.0.0", bin: { built: "dist/cli.js" }, scripts: { prepare: "tsc -p .", test: "vitest" } }),
  "src/cli.ts": "console.log('hi');\n",
};

/** A small HTTP server that handles SIGINT itself (it says goodbye and exits 7), and a bin that does not (it waits on a child). */
const server = {
  "package.json": JSON.stringify({ name: "serve", version: "1.0.0", bin: { serve: "server.js", hang: "hang.js" } }),
  "server.js": exe(
    "#!/usr/bin/env node\nconst http = require('http');\nconst server = http.createServer((req, res) => res.end('hello from ' + req.url));\n" +
      "server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));\n" +
      "const helper = require('child_process').spawn('sleep', ['1000'], { stdio: 'ignore' });\n" +
      // Its own child must still run when its handler has had a moment: tsexec leaves a program that handles SIGINT alone.
      "process.on('SIGINT', () => setTimeout(() => { console.log('bye, helper ' + (helper.exitCode === null && helper.signalCode === null ? 'running' : 'stopped by ' + helper.signalCode)); helper.kill(); server.close(() => { process.exitCode = 7; }); }, 300));\n",
  ),
  "hang.js": exe("#!/usr/bin/env node\nconst { spawn } = require('child_process');\nconst child = spawn('sleep', ['1000'], { stdio: 'ignore' });\nconsole.log('child ' + child.pid);\n"),
};

function repoWith(files: Record<string, string | { text: string; executable: boolean }>): { url: string; commit: string } {
  const repo = WorkRepo.create();
  const commit = repo.commit("init", files);
  return { url: `git+file://${repo.dir}`, commit };
}

const ref = (r: { url: string; commit: string }, app?: string) => `${r.url}?rev=${r.commit}${app === undefined ? "" : `#${app}`}`;

describe("plain Node programs as apps", () => {
  it("a CommonJS CLI with dependencies: dependencies resolve from every module, argv and exit code as under node, warm runs ask nothing", async () => {
    const r = repoWith({ ...commonJsCli, "package-lock.json": padLock() });
    const cacheDir = tempDir("cache-");
    const env = npmEnv(registry.url);
    registry.requests.length = 0;
    const out = await runTsexec([ref(r, "padder"), "a", "b c"], { env, cacheDir });
    expect(out.stderr).toBe("");
    const seen = JSON.parse(out.stdout) as Record<string, unknown>;
    expect(seen).toMatchObject({ name: "padder", args: ["a", "b c"], out: ["....a", "..b c"], main: true, version: "2.3.4", nodeIs: true });
    expect(String(seen.resolved).startsWith(realpathSync(join(cacheDir, "npm", "trees")))).toBe(true);
    expect(out.code).toBe(2);
    expect(registry.requests.sort()).toEqual(["GET /app-version/-/app-version-1.0.0.tgz", "GET /left-pad/-/left-pad-1.3.0.tgz"]);
    // Warm: the store answers; process.exit(n) gives the exit code.
    registry.requests.length = 0;
    const again = await runTsexec([ref(r, "pad"), "exit", "9"], { env, cacheDir });
    expect(again.code).toBe(9);
    expect(JSON.parse(again.stdout)).toMatchObject({ name: "pad", args: ["exit", "9"] });
    expect(registry.requests).toEqual([]);
    // The view is read-only (modes, not a write attempt: tests run as root) and links the shared tree.
    const views = join(cacheDir, "apps", "views");
    const [view] = readdirSync(views).filter((n) => !n.startsWith("."));
    expect(statSync(join(views, view!, "src", "bin", "pad.js")).mode & 0o222).toBe(0);
    expect(statSync(join(views, view!, "src", "lib")).mode & 0o222).toBe(0);
    expect(lstatSync(join(views, view!, "src", "node_modules")).isSymbolicLink()).toBe(true);
    // Another commit with the same lock: a second view, the same tree.
    const repo2 = repoWith({ ...commonJsCli, "package-lock.json": padLock(), "README.md": "other commit\n" });
    expect((await runTsexec([ref(repo2, "pad"), "x"], { env, cacheDir })).code).toBe(1);
    expect(readdirSync(join(cacheDir, "npm", "trees")).filter((n) => !n.startsWith(".") && !n.endsWith(".lock"))).toHaveLength(1);
    expect(registry.requests).toEqual([]);
  });

  it("a registry name reaches a plain program too (name/<commit>#app)", async () => {
    const r = repoWith({ ...commonJsCli, "package-lock.json": padLock() });
    const env = { ...npmEnv(registry.url), XDG_CONFIG_HOME: tempDir("config-") };
    const cwd = tempDir("cwd-");
    expect((await runTsexec(["registry", "add", "padtool", r.url], { env, cwd })).code).toBe(0);
    const out = await runTsexec([`padtool/${r.commit}#pad`, "z"], { env, cwd });
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout)).toMatchObject({ name: "pad", args: ["z"], out: ["....z"], main: true });
    expect(out.code).toBe(1);
  });

  it("an extensionless CommonJS bin, run as the package's single bin without a fragment", async () => {
    const r = repoWith(extensionless());
    const out = await runTsexec([ref(r), "x", "y"], { env: npmEnv(registry.url) });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("........function:x y\n");
    expect(out.code).toBe(0);
  });

  it("an ES module bin importing ../lib/x.js, which imports a dependency (import and createRequire)", async () => {
    const r = repoWith(esModule());
    const out = await runTsexec([ref(r, "esm"), "ab", "c"], { env: npmEnv(registry.url) });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("..AB ...C true esm undefined\n");
    expect(out.code).toBe(4);
  });

  it("a local clone without node_modules runs from a copy with the locked tree; the clone is left as it was", async () => {
    const dir = writeTree({ ...Object.fromEntries(Object.entries(esModule()).map(([k, v]) => [k, typeof v === "string" ? v : v.text])) });
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([`${dir}#esm`, "q"], { env: npmEnv(registry.url), cacheDir });
    expect(out.stdout).toBe("...Q true esm undefined\n");
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
    expect(statSync(join(dir, "lib", "x.js")).mode & 0o200).not.toBe(0);
    // An installed clone (a node_modules of its own) runs where it is, with its own node_modules, as node would.
    writeTree({ "node_modules/left-pad/package.json": JSON.stringify({ name: "left-pad", version: "9.9.9" }), "node_modules/left-pad/index.js": "module.exports = (s) => 'local:' + s;\n" }, dir);
    const installed = await runTsexec([`${dir}#esm`, "q"], { env: npmEnv(registry.url), cacheDir });
    expect(installed.stdout).toBe("local:Q true esm undefined\n");
  });

  it("a crafted repository: links out of the package (also chained ones) are not in the view; a bin name that is a path is refused", async () => {
    const files = {
      "package.json": JSON.stringify({ name: "crafted", version: "1.0.0", bin: { peek: "bin/peek.js" }, dependencies: { "left-pad": "^1.3.0" } }),
      "package-lock.json": lockFor({ "left-pad": "^1.3.0" }, { "node_modules/left-pad": { name: "left-pad", version: "1.3.0" } }),
      "bin/peek.js": exe(
        "#!/usr/bin/env node\nconst fs = require('fs'), path = require('path');\nconst at = (p) => { try { return fs.realpathSync(path.join(__dirname, '..', p)); } catch { return 'absent'; } };\n" +
          "console.log(['etc', 'up', 'sub/z', 'inner'].map((p) => p + '=' + at(p)).join(' '));\n",
      ),
      etc: { symlink: "/etc" },
      up: { symlink: "." },
      "sub/z": { symlink: "../up/.." },
      inner: { symlink: "bin" },
    };
    const repo = WorkRepo.create();
    const commit = repo.commit("crafted", files as never);
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([`git+file://${repo.dir}?rev=${commit}#peek`], { env: npmEnv(registry.url), cacheDir });
    expect(out.stderr).toBe("");
    const view = realpathSync(join(cacheDir, "apps", "views", readdirSync(join(cacheDir, "apps", "views")).find((n) => !n.startsWith("."))!, "src"));
    expect(out.stdout).toBe(`etc=absent up=${view} sub/z=absent inner=${view}/bin\n`);
    const named = repoWith({ "package.json": JSON.stringify({ name: "named", version: "1.0.0", bin: { "../../evil": "x.js" } }), "x.js": exe("#!/usr/bin/env node\nconsole.log('ran');\n") });
    const refused = await runTsexec([ref(named)], { cacheDir });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^error: the bin '..\/..\/evil' is not a file name[^\n]*\n$/);
  });

  it("a bin that needs a build step: one error line naming the file and the build script", async () => {
    const r = repoWith(needsBuild);
    const out = await runTsexec([ref(r, "built")]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: reference .*: package.json bin 'built' → 'dist\/cli.js' is not in the checkout: it is made by a build step \(the package's 'prepare' script: tsc -p \.\), and tsexec runs no build steps[^\n]*\n$/);
  });

  it("show lists every bin as an app and says which are plain programs; directories.bin is read", async () => {
    const r = repoWith({ ...commonJsCli, "package-lock.json": padLock() });
    const out = await runTsexec(["show", ref(r)]);
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(`${ref(r)} at commit ${r.commit}:\n  apps:\n    pad → bin/pad.js     (plain program)\n    padder → bin/pad.js  (plain program)\n`);
    const dirs = repoWith({
      "package.json": JSON.stringify({ name: "dirs", version: "1.0.0", directories: { bin: "./tools" } }),
      "tools/one": exe("#!/usr/bin/env node\nconsole.log('one', process.argv.slice(2).join(' '));\n"),
      "tools/two.ts": "import { defineScript } from 'tsexec';\n/** Says two. */\nexport default defineScript(({ lib }) => lib.io(() => console.log('two')));\n",
    });
    const listed = await runTsexec(["show", ref(dirs)]);
    expect(listed.stdout).toContain("    one → tools/one        (plain program)\n");
    expect(listed.stdout).toContain("    two.ts → tools/two.ts  (tsexec script)  Says two.\n");
    expect((await runTsexec([ref(dirs, "one"), "z"])).stdout).toBe("one z\n");
  });

  it("a server that handles SIGINT gets it and stops on its own terms; one that does not is stopped with its children", async () => {
    const r = repoWith(server);
    const cacheDir = tempDir("cache-");
    const child = spawn(process.execPath, [launcher, ref(r, "serve")], { env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
    await until(() => /listening \d+/.test(stdout), "the server to listen", 30_000);
    const port = Number(/listening (\d+)/.exec(stdout)![1]);
    const body = await new Promise<string>((resolve, reject) =>
      request({ host: "127.0.0.1", port, path: "/ping" }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve(text));
      })
        .on("error", reject)
        .end(),
    );
    expect(body).toBe("hello from /ping");
    child.kill("SIGINT");
    expect(await exited).toEqual({ code: 7, signal: null });
    expect(stdout).toBe(`listening ${port}\nbye, helper running\n`);
    expect(processExists(child.pid!)).toBe(false);

    const hang = spawn(process.execPath, [launcher, ref(r, "hang")], { env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir }, stdio: ["ignore", "pipe", "pipe"] });
    let hangOut = "";
    hang.stdout.setEncoding("utf8").on("data", (d: string) => (hangOut += d));
    const hangExited = new Promise<NodeJS.Signals | null>((resolve) => hang.on("close", (_code, signal) => resolve(signal)));
    await until(() => /child \d+/.test(hangOut), "the child to start", 30_000);
    const grandchild = Number(/child (\d+)/.exec(hangOut)![1]);
    hang.kill("SIGINT");
    expect(await hangExited).toBe("SIGINT");
    await until(() => !processExists(grandchild), "the program's child to stop");
  });

  it("tsexec npm:NAME runs a published package's bin; --pinned-only wants an exact version; show lists its bins; --offline runs from the store", async () => {
    const cacheDir = tempDir("cache-");
    const env = npmEnv(registry.url);
    const exact = await runTsexec(["npm:greeter@1.0.0", "a", "b"], { env, cacheDir });
    expect(exact.stderr).toBe("");
    expect(exact.stdout).toBe("..hi 1.0.0 greet a,b\n");
    const latest = await runTsexec(["npm:greeter#greet"], { env, cacheDir });
    expect(latest.stdout).toBe("..hi 1.1.0 greet \n");
    const pinned = await runTsexec(["--pinned-only", "npm:greeter@^1"], { env, cacheDir });
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(/^error: refusing npm:greeter@\^1 \(--pinned-only or TSEXEC_PINNED_ONLY\): name an exact version[^\n]*\n$/);
    const shown = await runTsexec(["show", "npm:greeter@1.0.0"], { env, cacheDir });
    expect(shown.stdout).toBe("npm:greeter@1.0.0:\n  apps:\n    greet → bin/greet.js  (plain program)\n");
    registry.failWith = 500;
    try {
      const offline = await runTsexec(["--offline", "npm:greeter@1.0.0", "c"], { env, cacheDir });
      expect(offline.stdout).toBe("..hi 1.0.0 greet c\n");
      const missing = await runTsexec(["--offline", "npm:left-pad@1.3.0"], { env, cacheDir });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^error: /);
      expect(missing.stderr.split("\n")).toHaveLength(2);
    } finally {
      registry.failWith = undefined;
    }
    const noBin = await runTsexec(["npm:left-pad@1.3.0"], { env, cacheDir });
    expect(noBin.stderr).toMatch(/^error: npm:left-pad@1.3.0 has no bin/);
  });
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}
