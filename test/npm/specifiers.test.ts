/** `npm:` specifiers in single-file scripts: resolved once, pinned in tsexec.lock, installed from the store. */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root, runTsexec, tempDir, writeTree } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";
import { npmEnv, startRegistry, tarballOf, type Registry } from "./registry.js";

const script = (imports: string, body: string) =>
  `${imports}\nexport default ({ lib }: any) => lib.task(async () => { ${body} });\n`;

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry([
    { name: "colors-lite", version: "1.0.0" },
    { name: "colors-lite", version: "1.2.0", dependencies: { "tiny-dep": "^2.0.0" }, files: { "index.js": "module.exports = 'colors-lite@1.2.0+' + require('tiny-dep');\n", "sub/x.js": "module.exports = 'sub-x';\n" } },
    { name: "colors-lite", version: "2.0.0" },
    { name: "tiny-dep", version: "2.0.1" },
    { name: "tiny-dep", version: "2.3.0" },
    { name: "picocolors", version: "1.1.1", files: { "index.js": "const id = (s) => s; module.exports = { green: (s) => '+' + s, red: (s) => '-' + s, bold: id, dim: id };\n" } },
    { name: "semver", version: "7.6.3", files: { "index.js": "module.exports = { satisfies: (v, r) => r === '>=1' };\n" } },
    { name: "host-lib", version: "1.4.0", files: { "index.js": "module.exports = { id: 'host' };\n" } },
    { name: "plugin", version: "1.0.0", peerDependencies: { "host-lib": "^1.0.0" }, files: { "index.js": "module.exports = { host: require('host-lib') };\n" } },
    { name: "@acme/scoped", version: "0.3.1", files: { "index.js": "module.exports = 'scoped';\n", "lib/util.js": "module.exports = 'util';\n" } },
  ]);
});
afterAll(() => registry.close());

describe("npm: specifiers", () => {
  it("resolves on the first run, writes tsexec.lock, and later runs use the lock without the registry", async () => {
    const dir = writeTree({
      "tool.ts": script(`import c from "npm:colors-lite@^1.1.0"; import x from "npm:colors-lite@^1.1.0/sub/x.js"; import s from "npm:@acme/scoped@0.3/lib/util.js";`, `console.log(c, x, s);`),
    });
    const env = npmEnv(registry.url);
    const cacheDir = tempDir("cache-");
    const first = await runTsexec([join(dir, "tool.ts")], { env, cacheDir });
    // One line says what was pinned where, as for inputs.
    expect(first.stderr).toBe(`tsexec: locked npm:colors-lite@^1.1.0 at colors-lite@1.2.0, npm:@acme/scoped@0.3 at @acme/scoped@0.3.1: wrote ${join(dir, "tsexec.lock")}\n`);
    expect(first.stdout).toBe("colors-lite@1.2.0+tiny-dep@2.3.0 sub-x util\n");
    const lock = JSON.parse(readFileSync(join(dir, "tsexec.lock"), "utf8"));
    expect(lock.version).toBe(1);
    expect(lock.npm.specifiers).toEqual({ "colors-lite@^1.1.0": "colors-lite@1.2.0", "@acme/scoped@0.3": "@acme/scoped@0.3.1" });
    expect(lock.npm.packages["colors-lite@1.2.0"]).toEqual({ dependencies: { "tiny-dep": "tiny-dep@2.3.0" }, integrity: registry.integrity("colors-lite", "1.2.0") });
    // A fresh cache (nothing stored): only tarballs are fetched, no packument, and the bytes are the locked ones.
    registry.requests.length = 0;
    const second = await runTsexec([join(dir, "tool.ts")], { env, cacheDir: tempDir("cache-") });
    expect(second.stdout).toBe(first.stdout);
    expect(registry.requests.every((r) => r.endsWith(".tgz"))).toBe(true);
    expect(registry.requests.length).toBe(3);
    // Warm: no request at all.
    registry.requests.length = 0;
    const warm = await runTsexec([join(dir, "tool.ts")], { env, cacheDir });
    expect(warm.stdout).toBe(first.stdout);
    expect(registry.requests).toEqual([]);
    // The tree is read-only and shares its files with the package store.
    const trees = join(cacheDir, "npm", "trees");
    const tree = readdirSync(trees).find((n) => !n.endsWith(".lock"))!;
    const file = join(trees, tree, "node_modules", ".tsexec", "colors-lite@1.2.0", "node_modules", "colors-lite", "index.js");
    expect(statSync(file).mode & 0o222).toBe(0);
    expect(statSync(file).nlink).toBe(2);
    expect(readdirSync(trees).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
  });

  it("examples/check-engines.ts runs from any directory (against fakes of its two packages)", async () => {
    const dir = writeTree({
      "check-engines.ts": readFileSync(join(root, "examples", "check-engines.ts"), "utf8"),
      "package.json": JSON.stringify({ engines: { node: ">=1" } }),
    });
    const out = await runTsexec([join(dir, "check-engines.ts")], { env: npmEnv(registry.url), cwd: dir });
    expect(out.stderr).toBe(`tsexec: locked npm:picocolors@^1.1.0 at picocolors@1.1.1, npm:semver@^7.6.0 at semver@7.6.3: wrote ${join(dir, "tsexec.lock")}\n`);
    expect(out.stdout).toBe(`+ok: node ${process.version} satisfies >=1\n`);
    expect(JSON.parse(readFileSync(join(dir, "tsexec.lock"), "utf8")).npm.specifiers).toEqual({ "picocolors@^1.1.0": "picocolors@1.1.1", "semver@^7.6.0": "semver@7.6.3" });
  });

  it("peer dependencies are installed and shared with the script's own import", async () => {
    const dir = writeTree({ "t.ts": script(`import plugin from "npm:plugin@1"; import host from "npm:host-lib@^1";`, `console.log(plugin.host === host, host.id);`) });
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(out.stderr).toMatch(/^tsexec: locked npm:plugin@1 at plugin@[\d.]+, npm:host-lib@\^1 at host-lib@[\d.]+: wrote .*tsexec\.lock\n$/);
    expect(out.stdout).toBe("true host\n");
  });

  it("a specifier without a range locks the latest version under the bare name", async () => {
    const dir = writeTree({ "t.ts": script(`import c from "npm:colors-lite";`, `console.log(c);`) });
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(out.stdout).toBe("colors-lite@2.0.0\n");
    expect(JSON.parse(readFileSync(join(dir, "tsexec.lock"), "utf8")).npm.specifiers).toEqual({ "colors-lite": "colors-lite@2.0.0" });
  });

  it("--frozen refuses a missing entry and runs from an existing one", async () => {
    const dir = writeTree({ "t.ts": script(`import c from "npm:colors-lite@1.0.0";`, `console.log(c);`) });
    const env = npmEnv(registry.url);
    const refused = await runTsexec(["--frozen", join(dir, "t.ts")], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`error: ${join(dir, "t.ts")}: ${join(dir, "tsexec.lock")} does not pin npm:colors-lite@1.0.0, and --frozen (TSEXEC_FROZEN) forbids changing it: run without --frozen to lock it, and commit the lock\n`);
    expect(existsSync(join(dir, "tsexec.lock"))).toBe(false);
    const byEnv = await runTsexec([join(dir, "t.ts")], { env: { ...env, TSEXEC_FROZEN: "1" } });
    expect(byEnv.code).toBe(1);
    expect((await runTsexec([join(dir, "t.ts")], { env })).stdout).toBe("colors-lite@1.0.0\n");
    const frozen = await runTsexec(["--frozen", join(dir, "t.ts")], { env });
    expect(frozen.stdout).toBe("colors-lite@1.0.0\n");
  });

  it("--offline answers from the store and npm's cache, and names the package otherwise", async () => {
    const dir = writeTree({ "t.ts": script(`import c from "npm:tiny-dep@2.0.1";`, `console.log(c);`) });
    const env = npmEnv(registry.url);
    const refused = await runTsexec(["--offline", join(dir, "t.ts")], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("npm:tiny-dep@2.0.1");
    expect(refused.stderr).toContain("--offline");
    expect((await runTsexec([join(dir, "t.ts")], { env })).stdout).toBe("tiny-dep@2.0.1\n");
    // Locked, but a fresh cache and no npm cache: the package is named.
    registry.requests.length = 0;
    const noStore = await runTsexec(["--offline", join(dir, "t.ts")], { env: npmEnv(registry.url) });
    expect(noStore.stderr).toMatch(/^error: tiny-dep@2\.0\.1 is neither in tsexec's store nor in npm's cache, and --offline forbids/);
    expect(registry.requests).toEqual([]);
    // npm's own cache (cacache content-v2, addressed by integrity) answers without a request.
    const home = tempDir("npm-home-");
    const { createHash } = await import("node:crypto");
    const data = registry.tarball("tiny-dep", "2.0.1");
    const hex = createHash("sha512").update(data).digest("hex");
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(join(home, ".npm/_cacache/content-v2/sha512", hex.slice(0, 2), hex.slice(2, 4)), { recursive: true });
    writeFileSync(join(home, ".npm/_cacache/content-v2/sha512", hex.slice(0, 2), hex.slice(2, 4), hex.slice(4)), data);
    const fromNpmCache = await runTsexec(["--offline", join(dir, "t.ts")], { env: npmEnv(registry.url, home) });
    expect(fromNpmCache.stdout).toBe("tiny-dep@2.0.1\n");
    expect(registry.requests).toEqual([]);
  });

  it("--offline resolves a new specifier from the packuments and tarballs in npm's cache", async () => {
    const { createHash } = await import("node:crypto");
    const { appendFileSync, mkdirSync, writeFileSync } = await import("node:fs");
    const home = tempDir("npm-home-");
    const cacache = join(home, ".npm", "_cacache");
    const putContent = (data: Buffer) => {
      const hex = createHash("sha512").update(data).digest("hex");
      const dir = join(cacache, "content-v2", "sha512", hex.slice(0, 2), hex.slice(2, 4));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, hex.slice(4)), data);
      return `sha512-${createHash("sha512").update(data).digest("base64")}`;
    };
    const packument = Buffer.from(await (await fetch(`${registry.url}/tiny-dep`)).arrayBuffer());
    const key = `make-fetch-happen:request-cache:${registry.url}/tiny-dep`;
    const entry = JSON.stringify({ key, integrity: putContent(packument), time: Date.now(), size: packument.length, metadata: {} });
    const bucket = createHash("sha256").update(key).digest("hex");
    mkdirSync(join(cacache, "index-v5", bucket.slice(0, 2), bucket.slice(2, 4)), { recursive: true });
    appendFileSync(join(cacache, "index-v5", bucket.slice(0, 2), bucket.slice(2, 4), bucket.slice(4)), `\n${createHash("sha1").update(entry).digest("hex")}\t${entry}`);
    putContent(registry.tarball("tiny-dep", "2.3.0"));
    const dir = writeTree({ "t.ts": script(`import c from "npm:tiny-dep@^2.1";`, `console.log(c);`) });
    registry.requests.length = 0;
    const out = await runTsexec(["--offline", join(dir, "t.ts")], { env: npmEnv(registry.url, home) });
    expect(out.stderr).toBe(`tsexec: locked npm:tiny-dep@^2.1 at tiny-dep@2.3.0: wrote ${join(dir, "tsexec.lock")}\n`);
    expect(out.stdout).toBe("tiny-dep@2.3.0\n");
    expect(registry.requests).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, "tsexec.lock"), "utf8")).npm.specifiers).toEqual({ "tiny-dep@^2.1": "tiny-dep@2.3.0" });
    // Not in npm's cache: the error names the package.
    const other = writeTree({ "t.ts": script(`import c from "npm:colors-lite@1";`, `console.log(c);`) });
    const refused = await runTsexec(["--offline", join(other, "t.ts")], { env: npmEnv(registry.url, home) });
    expect(refused.stderr).toBe(
      `error: npm:colors-lite@1 (imported from ${join(other, "t.ts")}) is not pinned in ${join(other, "tsexec.lock")}, and --offline lets only npm's cache resolve it: ` +
        `npm's cache holds no metadata for colors-lite from ${registry.url}/; run once online to pin it\n`,
    );
    expect(registry.requests).toEqual([]);
  });

  it("online, a packument npm's cache holds still fresh (cache-control max-age) is used without a request; a stale one is fetched", async () => {
    const { createHash } = await import("node:crypto");
    const { appendFileSync, mkdirSync, writeFileSync } = await import("node:fs");
    const served = JSON.parse(Buffer.from(await (await fetch(`${registry.url}/tiny-dep`)).arrayBuffer()).toString("utf8"));
    // What npm cached earlier: before 2.3.0 was published (so which one answered shows in the result).
    delete served.versions["2.3.0"];
    served["dist-tags"] = { latest: "2.0.1" };
    const packument = Buffer.from(JSON.stringify(served));
    for (const [age, expected, requested] of [[60_000, "tiny-dep@2.0.1", false], [600_000, "tiny-dep@2.3.0", true]] as const) {
      const cacache = join(tempDir("npm-home-"), ".npm", "_cacache");
      const hex = createHash("sha512").update(packument).digest("hex");
      mkdirSync(join(cacache, "content-v2", "sha512", hex.slice(0, 2), hex.slice(2, 4)), { recursive: true });
      writeFileSync(join(cacache, "content-v2", "sha512", hex.slice(0, 2), hex.slice(2, 4), hex.slice(4)), packument);
      const key = `make-fetch-happen:request-cache:${registry.url}/tiny-dep`;
      const metadata = { url: `${registry.url}/tiny-dep`, resHeaders: { "cache-control": "public, max-age=300" } };
      const entry = JSON.stringify({ key, integrity: `sha512-${createHash("sha512").update(packument).digest("base64")}`, time: Date.now() - age, size: packument.length, metadata });
      const bucket = createHash("sha256").update(key).digest("hex");
      mkdirSync(join(cacache, "index-v5", bucket.slice(0, 2), bucket.slice(2, 4)), { recursive: true });
      appendFileSync(join(cacache, "index-v5", bucket.slice(0, 2), bucket.slice(2, 4), bucket.slice(4)), `\n${createHash("sha1").update(entry).digest("hex")}\t${entry}`);
      const dir = writeTree({ "t.ts": script(`import c from "npm:tiny-dep@^2";`, `console.log(c);`) });
      registry.requests.length = 0;
      const out = await runTsexec([join(dir, "t.ts")], { env: { ...npmEnv(registry.url), npm_config_cache: join(cacache, "..") } });
      expect(out.stderr).toMatch(/^tsexec: locked npm:tiny-dep@\^2 at tiny-dep@2\.\d+\.\d+: wrote .*tsexec\.lock\n$/);
      expect(out.stdout).toBe(`${expected}\n`);
      expect(registry.requests.includes("GET /tiny-dep")).toBe(requested);
    }
  });

  it("a script in a read-only git checkout runs and warns naming the version to pin", async () => {
    const work = WorkRepo.create();
    const commit = work.commit("tool", { "t.ts": script(`import c from "npm:colors-lite@^1";`, `console.log(c);`) });
    const out = await runTsexec([`git+file://${work.dir}?rev=${commit}#t.ts`], { env: npmEnv(registry.url) });
    expect(out.stdout).toBe("colors-lite@1.2.0+tiny-dep@2.3.0\n");
    expect(out.stderr).toMatch(/^tsexec: warning: npm:colors-lite@\^1 is not pinned \(.* is read-only, so no tsexec\.lock records it\): it resolved to colors-lite@1\.2\.0; to run exactly this, import npm:colors-lite@1\.2\.0\n$/);
  });

  it("an integrity mismatch names the package and both hashes, and stores nothing", async () => {
    const dir = writeTree({ "t.ts": script(`import c from "npm:colors-lite@2.0.0";`, `console.log(c);`) });
    const env = npmEnv(registry.url);
    registry.tamper("colors-lite", "2.0.0", tarballOf({ name: "colors-lite", version: "2.0.0", files: { "index.js": "module.exports = 'evil';\n" } }));
    const cacheDir = tempDir("cache-");
    try {
      const out = await runTsexec([join(dir, "t.ts")], { env, cacheDir });
      expect(out.code).toBe(1);
      const expected = registry.integrity("colors-lite", "2.0.0");
      expect(out.stderr).toMatch(/^error: integrity mismatch for colors-lite@2\.0\.0 \(from http:\/\/127\.0\.0\.1:\d+\/colors-lite\/-\/colors-lite-2\.0\.0\.tgz\): the lock expects sha512-/);
      expect(out.stderr).toContain(expected);
      expect(out.stderr.split("\n").filter(Boolean)).toHaveLength(1);
      expect(readdirSync(join(cacheDir, "npm", "packages"))).toEqual([]);
    } finally {
      registry.tamper("colors-lite", "2.0.0", registry.tarball("colors-lite", "2.0.0"));
    }
  });

  it("an unreachable registry, a 404 and a 500 are one error naming the package and the registry", async () => {
    const dir = writeTree({ "t.ts": script(`import c from "npm:colors-lite@^1";`, `console.log(c);`) });
    const down = await runTsexec([join(dir, "t.ts")], { env: npmEnv("http://127.0.0.1:9") });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: colors-lite: cannot reach the registry http:\/\/127\.0\.0\.1:9\/ \(ECONNREFUSED\)/);
    const missing = writeTree({ "t.ts": script(`import c from "npm:no-such-package@1";`, `console.log(c);`) });
    const notFound = await runTsexec([join(missing, "t.ts")], { env: npmEnv(registry.url) });
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toMatch(/^error: no-such-package: the registry http:\/\/127\.0\.0\.1:\d+\/ answered 404/);
    registry.failWith = 500;
    try {
      const failing = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url) });
      expect(failing.code).toBe(1);
      expect(failing.stderr).toMatch(/^error: colors-lite: the registry http:\/\/127\.0\.0\.1:\d+\/ answered 500/);
      expect(failing.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    } finally {
      registry.failWith = undefined;
    }
  });
});

describe("a crafted tsexec.lock", () => {
  it("a dependency name that would lead out of the tree is refused, naming it", async () => {
    const { writeFileSync } = await import("node:fs");
    const dir = writeTree({ "t.ts": script(`import c from "npm:tiny-dep@2.0.1";`, `console.log(c);`) });
    writeFileSync(
      join(dir, "tsexec.lock"),
      JSON.stringify({
        version: 1,
        npm: {
          specifiers: { "tiny-dep@2.0.1": "tiny-dep@2.0.1" },
          packages: { "tiny-dep@2.0.1": { integrity: registry.integrity("tiny-dep", "2.0.1"), dependencies: { "../../../../escaped": "tiny-dep@2.0.1" } } },
        },
      }),
    );
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([join(dir, "t.ts")], { env: npmEnv(registry.url), cacheDir });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: \/.*\/tsexec\.lock: "npm"\."packages"\."tiny-dep@2\.0\.1"\."dependencies": '\.\.\/\.\.\/\.\.\/\.\.\/escaped' is not a valid npm package name\n$/);
    expect(existsSync(join(cacheDir, "npm", "escaped"))).toBe(false);
  });
});

describe("npm configuration", () => {
  it("a scoped private registry with a token from ~/.npmrc, beside the default registry", async () => {
    const { writeFileSync } = await import("node:fs");
    const privateRegistry = await startRegistry([{ name: "@corp/secret", version: "1.0.0", dependencies: { "tiny-dep": "2.0.1" }, files: { "index.js": "module.exports = 'secret+' + require('tiny-dep');\n" } }], "s3cret");
    try {
      const home = tempDir("npm-home-");
      const port = new URL(privateRegistry.url).host;
      writeFileSync(join(home, ".npmrc"), `@corp:registry=${privateRegistry.url}/\n//${port}/:_authToken=\${CORP_TOKEN}\n`);
      const dir = writeTree({ "t.ts": script(`import s from "npm:@corp/secret@1";`, `console.log(s);`) });
      const env = { ...npmEnv(registry.url, home), CORP_TOKEN: "s3cret" };
      const out = await runTsexec([join(dir, "t.ts")], { env, cacheDir: tempDir("cache-") });
      expect(out.stderr).toBe(`tsexec: locked npm:@corp/secret@1 at @corp/secret@1.0.0: wrote ${join(dir, "tsexec.lock")}\n`);
      expect(out.stdout).toBe("secret+tiny-dep@2.0.1\n");
      expect(privateRegistry.requests).toEqual(["GET /@corp/secret", "GET /@corp/secret/-/secret-1.0.0.tgz"]);
      // Without the token: 401, named with advice about credentials.
      const denied = await runTsexec([join(dir, "t.ts")], { env: { ...env, CORP_TOKEN: "wrong" }, cacheDir: tempDir("cache-") });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^error: @corp\/secret@1\.0\.0: the registry http:\/\/127\.0\.0\.1:\d+\/ answered 401 .*check the credentials/);
    } finally {
      await privateRegistry.close();
    }
  });
});
