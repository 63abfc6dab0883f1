/** Unit tests of the package store's parts: the tar reader, semver ranges, npm config, specifiers. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractTarball } from "../../src/runtime/npm/tar.js";
import { compareVersions, maxSatisfying, parseRange, parseVersion, satisfies } from "../../src/runtime/npm/semver.js";
import { loadNpmConfig, parseNpmrc, tarballUrl } from "../../src/runtime/npm/config.js";
import { parseNpmSpecifier } from "../../src/runtime/npm/index.js";
import { fitsThisPlatform } from "../../src/runtime/npm/platform.js";
import { writeTree } from "../helpers.js";
import { makeTarball } from "./registry.js";

const fresh = () => mkdtempSync(join(tmpdir(), "tar-"));

describe("tar reader", () => {
  it("extracts files and directories, dropping the top directory and keeping execute bits", () => {
    const dest = fresh();
    const n = extractTarball(
      makeTarball([
        { name: "package/", type: "5", mode: 0o755 },
        { name: "package/package.json", body: "{}" },
        { name: "package/bin/run", body: "#!/bin/sh\n", mode: 0o755 },
        { name: "package/lib/deep/a.js", body: "a" },
      ]),
      dest,
      "pkg@1.0.0",
    );
    expect(n).toBe(3);
    expect(readdirSync(dest).sort()).toEqual(["bin", "lib", "package.json"]);
    expect(statSync(join(dest, "bin/run")).mode & 0o111).not.toBe(0);
    expect(readFileSync(join(dest, "lib/deep/a.js"), "utf8")).toBe("a");
  });

  it.each([
    [{ name: "package/../../escape.js", body: "x" }, /leads out of the package/],
    [{ name: "/etc/passwd", body: "x" }, /absolute path/],
    [{ name: "package/link", type: "2", linkname: "/etc/passwd" }, /is a symbolic link/],
    [{ name: "package/hard", type: "1", linkname: "package/package.json" }, /is a hard link/],
    [{ name: "package/dev", type: "3" }, /is a character device/],
    [{ name: "package/fifo", type: "6" }, /is a FIFO/],
  ])("refuses %o", (entry, message) => {
    const dest = fresh();
    expect(() => extractTarball(makeTarball([{ name: "package/ok.js", body: "ok" }, entry]), dest, "evil@1.0.0")).toThrow(message);
    expect(() => extractTarball(makeTarball([entry]), fresh(), "evil@1.0.0")).toThrow(/^evil@1\.0\.0: the tarball entry/);
  });

  it("names with control characters are printed escaped", () => {
    expect(() => extractTarball(makeTarball([{ name: "package/../\u001b[31mred", body: "" }]), fresh(), "p@1")).toThrow(/\\u001b\[31mred/);
  });

  it("refuses what is not gzip, and truncated archives", () => {
    expect(() => extractTarball(Buffer.from("not gzip"), fresh(), "p@1")).toThrow(/not valid gzip/);
    const tar = gunzipSync(makeTarball([{ name: "package/a.js", body: "x".repeat(2000) }]));
    expect(() => extractTarball(gzipSync(tar.subarray(0, 1024)), fresh(), "p@1")).toThrow(/truncated or corrupt/);
  });

  it("never writes outside the destination, whatever the names (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z./]{1,12}$/), { minLength: 1, maxLength: 4 }), (names) => {
        const root = fresh();
        const dest = join(root, "dest");
        mkdirSync(dest);
        try {
          extractTarball(makeTarball(names.map((name) => ({ name: `package/${name}`, body: "x" }))), dest, "p@1");
        } catch {
          // Refused or conflicting names: fine, as long as nothing escaped.
        }
        expect(readdirSync(root)).toEqual(["dest"]);
      }),
      { numRuns: 60 },
    );
  });
});

describe("semver", () => {
  const ok = (version: string, range: string) => satisfies(parseVersion(version)!, parseRange(range)!);
  it.each([
    ["1.2.3", "^1.2.0", true],
    ["2.0.0", "^1.2.0", false],
    ["0.2.5", "^0.2.3", true],
    ["0.3.0", "^0.2.3", false],
    ["0.0.3", "^0.0.3", true],
    ["0.0.4", "^0.0.3", false],
    ["1.2.9", "~1.2.3", true],
    ["1.3.0", "~1.2.3", false],
    ["1.9.0", "1.x", true],
    ["2.0.0", "1", false],
    ["3.0.0", "*", true],
    ["1.5.0", ">=1.2 <2", true],
    ["2.0.0", ">=1.2 <2", false],
    ["1.5.0", "1.0.0 - 2.0.0", true],
    ["2.0.1", "1.0.0 - 2.0.0", false],
    ["2.1.0", "^1 || ^2", true],
    ["1.0.0-beta.1", "^1.0.0", false],
    ["1.0.0-beta.2", ">=1.0.0-beta.1 <2", true],
    ["3.23.8", "3", true],
    ["1.2.3", "= 1.2.3", true],
    ["1.2.4", ">= 1.2.3", true],
  ])("%s satisfies %s: %s", (version, range, expected) => {
    expect(ok(version, range)).toBe(expected);
  });

  it("dist-tags are not ranges; the highest match wins", () => {
    expect(parseRange("latest")).toBeUndefined();
    expect(maxSatisfying(["1.0.0", "1.10.0", "1.9.0", "2.0.0"], parseRange("^1")!)).toBe("1.10.0");
  });

  it("orders versions as semver does (property: a total order on generated versions)", () => {
    const version = fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20), fc.option(fc.constantFrom("alpha", "beta.1", "rc.2", "0"))).map(
      ([a, b, c, pre]) => `${a}.${b}.${c}${pre === null ? "" : `-${pre}`}`,
    );
    fc.assert(
      fc.property(version, version, (x, y) => {
        const vx = parseVersion(x)!;
        const vy = parseVersion(y)!;
        expect(Math.sign(compareVersions(vx, vy))).toBe(-Math.sign(compareVersions(vy, vx)));
        if (x === y) expect(compareVersions(vx, vy)).toBe(0);
      }),
    );
  });
});

describe("npm config", () => {
  it("parses npmrc with comments, quotes and ${VAR} expansion", () => {
    const rc = parseNpmrc(`; comment\n# another\nregistry = https://r.example/\n//r.example/:_authToken=\${TOKEN}\nquoted = "a b"\n`, { TOKEN: "t0k" });
    expect(rc.get("registry")).toBe("https://r.example/");
    expect(rc.get("//r.example/:_authToken")).toBe("t0k");
    expect(rc.get("quoted")).toBe("a b");
  });

  it("scoped registries, per-registry credentials, env over project over user config", () => {
    const home = writeTree({ ".npmrc": "registry=https://user.example/\n@acme:registry=https://acme.example/npm/\n//acme.example/npm/:_authToken=secret\n" });
    const project = writeTree({ ".npmrc": "registry=https://project.example\n" });
    const config = loadNpmConfig(project, { HOME: home });
    expect(config.registryFor("left-pad")).toBe("https://project.example/");
    expect(config.registryFor("@acme/tool")).toBe("https://acme.example/npm/");
    expect(config.authorizationFor("https://acme.example/npm/@acme/tool/-/tool-1.0.0.tgz")).toBe("Bearer secret");
    expect(config.authorizationFor("https://project.example/left-pad")).toBeUndefined();
    expect(tarballUrl(config, "@acme/tool", "1.0.0")).toBe("https://acme.example/npm/@acme/tool/-/tool-1.0.0.tgz");
    expect(loadNpmConfig(project, { HOME: home, npm_config_registry: "http://env.example" }).registryFor("x")).toBe("http://env.example/");
    expect(loadNpmConfig(undefined, { HOME: home, npm_config_cache: "/c" }).cacache).toBe("/c/_cacache");
  });
});

describe("npm: specifiers and platforms", () => {
  it.each([
    ["picocolors@^1.1.0", { name: "picocolors", range: "^1.1.0", subpath: ".", key: "picocolors@^1.1.0" }],
    ["zod@3", { name: "zod", range: "3", subpath: ".", key: "zod@3" }],
    ["zod", { name: "zod", range: undefined, subpath: ".", key: "zod" }],
    ["@scope/name@1.2/sub/path.js", { name: "@scope/name", range: "1.2", subpath: "./sub/path.js", key: "@scope/name@1.2" }],
    ["@scope/name/sub", { name: "@scope/name", range: undefined, subpath: "./sub", key: "@scope/name" }],
    ["lodash/fp", { name: "lodash", range: undefined, subpath: "./fp", key: "lodash" }],
  ])("npm:%s", (text, expected) => {
    expect(parseNpmSpecifier(text)).toEqual(expected);
  });

  it("os/cpu/libc with negations", () => {
    expect(fitsThisPlatform({ os: [process.platform] })).toBe(true);
    expect(fitsThisPlatform({ os: [`!${process.platform}`] })).toBe(false);
    expect(fitsThisPlatform({ cpu: ["definitely-not-this"] })).toBe(false);
    expect(fitsThisPlatform({})).toBe(true);
  });
});

describe("tsexec.lock npm entries", () => {
  it("os, cpu and libc restrictions read back; ill-typed ones name the entry", async () => {
    const { parseLock } = await import("../../src/base/lockfile.js");
    const text = JSON.stringify({ version: 1, npm: { specifiers: {}, packages: { "x-linux@1.0.0": { integrity: "sha512-abc=", dependencies: {}, os: ["linux"], cpu: ["x64"], libc: ["glibc"] } } } });
    expect(parseLock(text, "L").npm?.packages["x-linux@1.0.0"]?.libc).toEqual(["glibc"]);
    expect(() => parseLock(text.replace('["glibc"]', '"glibc"'), "L")).toThrow(/"npm"\."packages"\."x-linux@1\.0\.0"\."libc" must be an array of strings/);
  });
});

describe("package-lock.json plans (hostile locks)", () => {
  const lockWith = (packages: Record<string, unknown>) => {
    const dir = writeTree({ "package-lock.json": JSON.stringify({ lockfileVersion: 3, packages: { "": {}, ...packages } }) });
    return join(dir, "package-lock.json");
  };
  const integrity = "sha512-" + "A".repeat(86) + "==";
  it("places production and this platform's optional packages at the lock's paths", async () => {
    const { planFromPackageLock } = await import("../../src/runtime/npm/project.js");
    const plan = planFromPackageLock(
      lockWith({
        "node_modules/a": { version: "1.0.0", integrity, dependencies: { b: "1" } },
        "node_modules/a/node_modules/b": { version: "1.0.0", integrity },
        "node_modules/dev": { version: "1.0.0", integrity, dev: true },
        "node_modules/other-os": { version: "1.0.0", integrity, optional: true, os: [`!${process.platform}`] },
        "node_modules/alias": { name: "real", version: "2.0.0", integrity },
      }),
      new Set(),
      (url) => url,
    );
    expect(plan.placements.map((p) => [p.path, p.pkg.name])).toEqual([
      ["node_modules/a", "a"],
      ["node_modules/a/node_modules/b", "b"],
      ["node_modules/alias", "real"],
    ]);
  });
  it.each([
    [{ "node_modules/../../etc": { version: "1.0.0", integrity } }, /is not a node_modules path tsexec can place/],
    [{ "node_modules/x": { name: "../../x", version: "1.0.0", integrity } }, /is not a valid npm package name/],
    [{ "node_modules/x": { version: "1.0.0" } }, /has no integrity/],
    [{ "node_modules/x": { version: "1.0.0", integrity, resolved: "git+ssh://git@host/x.git" } }, /tsexec installs registry packages only/],
    [{ "node_modules/x": { version: "1.0.0", integrity, link: true, resolved: "packages/x" } }, /npm workspaces/],
  ])("refuses %o", async (packages, message) => {
    const { planFromPackageLock } = await import("../../src/runtime/npm/project.js");
    expect(() => planFromPackageLock(lockWith(packages), new Set(), (url) => url)).toThrow(message);
  });
  it("a lockfileVersion 1 lock says how to upgrade it", async () => {
    const { planFromPackageLock } = await import("../../src/runtime/npm/project.js");
    const dir = writeTree({ "package-lock.json": JSON.stringify({ lockfileVersion: 1, dependencies: {} }) });
    expect(() => planFromPackageLock(join(dir, "package-lock.json"), new Set(), (u) => u)).toThrow(/lockfileVersion 1\): tsexec reads lockfileVersion 2 and 3/);
  });
});
