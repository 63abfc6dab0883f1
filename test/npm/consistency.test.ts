/**
 * What the npm store writes and reuses stays consistent with what was asked
 * (issue 19): a registry answer that is refused never reaches tsexec.lock, a
 * lock is pinned only once its packages are installed, a deep lock is walked
 * without recursion, and a run allowing install scripts never reuses what a
 * run without them built. The registry is the test's own, on 127.0.0.1.
 */
import { existsSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { npmEnv, sri, startRegistry, tarballOf, type Registry } from "./registry.js";

const importing = (specifier: string) => `import x from ${JSON.stringify(specifier)};\nexport default ({ lib }: any) => lib.io(() => console.log(String(x)));\n`;

let registry: Registry;
beforeAll(async () => {
  registry = await startRegistry([
    { name: "fine", version: "1.0.0" },
    { name: "tampered", version: "1.0.0" },
    {
      name: "marks",
      version: "1.0.0",
      scripts: { postinstall: `node -e "require('fs').writeFileSync('marked.txt', 'yes')"` },
      files: { "index.js": "module.exports = require('fs').existsSync(__dirname + '/marked.txt') ? 'scripts ran' : 'scripts not run';\n" },
    },
  ]);
  registry.tamper("tampered", "1.0.0", tarballOf({ name: "tampered", version: "1.0.0", files: { "index.js": "module.exports = 'other bytes';\n" } }));
});
afterAll(() => registry.close());

describe("tsexec.lock is written only with what was checked and installed", () => {
  let evil: Server;
  let evilUrl: string;
  beforeAll(async () => {
    // A packument whose `latest` is a path, or holds an ESC: the version would name a store directory.
    const tarball = tarballOf({ name: "x", version: "1.0.0" });
    const packument = (name: string, version: string) => ({
      name,
      "dist-tags": { latest: version },
      versions: { [version]: { name, version, dist: { tarball: `${evilUrl}/${name}/-/${name}-1.0.0.tgz`, integrity: sri(tarball) } } },
    });
    const answers: Record<string, object> = { "/dots": packument("dots", "1.0.0/../../x"), "/esc": packument("esc", "1.0.0-\u001b[31mred") };
    evil = createServer((req, res) => {
      const answer = answers[req.url ?? ""];
      if (answer) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      else res.writeHead(200, { "content-type": "application/octet-stream" }).end(tarball);
    });
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => evil.close(() => resolve())));

  test.each([
    ["a path", "dots", /'1\.0\.0\/\.\.\/\.\.\/x'/],
    ["an ESC", "esc", /'1\.0\.0-\\(x1b|u001b)\[31mred'/],
  ])("a packument whose latest is %s is refused, and no lock is written", async (_what, name, shown) => {
    const dir = writeTree({ "s.ts": importing(`npm:${name}`) });
    const out = await runTsexec([join(dir, "s.ts")], { env: npmEnv(evilUrl), timeoutMs: 30_000 });
    expect(out.code).toBe(1);
    const lines = out.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: npm:.* gives .* as the version of .*, which is not a version: refusing it/);
    expect(lines[0]).toMatch(shown);
    expect(out.stderr).not.toContain("\u001b");
    expect(existsSync(join(dir, "tsexec.lock"))).toBe(false);
  });

  test("a package that fails to install (tampered tarball) is not pinned; a good one is", async () => {
    const bad = writeTree({ "s.ts": importing("npm:tampered@1") });
    const out = await runTsexec([join(bad, "s.ts")], { env: npmEnv(registry.url), timeoutMs: 30_000 });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/integrity mismatch for tampered@1\.0\.0/);
    expect(existsSync(join(bad, "tsexec.lock"))).toBe(false);
    const good = writeTree({ "s.ts": importing("npm:fine@1") });
    const ok = await runTsexec([join(good, "s.ts")], { env: npmEnv(registry.url), timeoutMs: 30_000 });
    expect([ok.code, ok.stdout]).toEqual([0, "fine@1.0.0\n"]);
    expect(existsSync(join(good, "tsexec.lock"))).toBe(true);
  });
});

describe("a lock 50,000 packages deep", () => {
  test("is walked without overflowing the stack", async () => {
    const n = 50_000;
    const integrity = `sha512-${Buffer.alloc(64, 1).toString("base64")}`;
    const packages: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) packages[`p${i}@1.0.0`] = { integrity, dependencies: i + 1 < n ? { [`p${i + 1}`]: `p${i + 1}@1.0.0` } : {} };
    const dir = writeTree({ "s.ts": importing("npm:p0@1") });
    writeFileSync(join(dir, "tsexec.lock"), JSON.stringify({ version: 1, npm: { specifiers: { "p0@1": "p0@1.0.0" }, packages } }));
    // Offline: the whole lock is walked (what is missing, then the tree), then the first package is not in any cache.
    const out = await runTsexec(["--offline", join(dir, "s.ts")], { env: npmEnv(registry.url), timeoutMs: 60_000 });
    expect(out.signal).toBeNull();
    expect(out.code).toBe(1);
    expect(out.stderr).not.toMatch(/call stack/);
    expect(out.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(out.stderr).toMatch(/^error: p\d+@1\.0\.0 is neither in tsexec's store nor in npm's cache, and --offline forbids fetching it/);
  });
});

describe("allowed install scripts are part of what is cached", () => {
  test("--allow-scripts after a run without it, same cache: the scripts run", async () => {
    const cacheDir = tempDir("cache-");
    const home = tempDir("npm-home-");
    const dir = writeTree({ "s.ts": importing("npm:marks@1") });
    const without = await runTsexec([join(dir, "s.ts")], { cacheDir, env: npmEnv(registry.url, home), timeoutMs: 30_000 });
    expect([without.code, without.stdout]).toEqual([0, "scripts not run\n"]);
    const allowed = await runTsexec(["--allow-scripts=marks", join(dir, "s.ts")], { cacheDir, env: npmEnv(registry.url, home), timeoutMs: 30_000 });
    expect([allowed.code, allowed.stdout, allowed.stderr]).toEqual([0, "scripts ran\n", ""]);
    // And back: a run without the flag gets the tree without scripts again.
    const again = await runTsexec([join(dir, "s.ts")], { cacheDir, env: npmEnv(registry.url, home), timeoutMs: 30_000 });
    expect([again.code, again.stdout]).toEqual([0, "scripts not run\n"]);
  });
});
