/**
 * A local npm registry for tests: serves packuments and tarballs of packages
 * the test describes, on 127.0.0.1, recording every request. Tarballs are
 * made here (a tiny ustar writer, then gzip), so tests never touch the network.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { tempDir, writeTree } from "../helpers.js";

export interface TarEntry {
  readonly name: string;
  readonly body?: string | Buffer;
  /** ustar type flag: "0" file (default), "5" directory, "2" symlink, "1" hard link, "3" device. */
  readonly type?: string;
  readonly mode?: number;
  readonly linkname?: string;
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (text: string, at: number, length: number) => h.write(text, at, length, "utf8");
  const octal = (value: number, at: number, length: number) => put(value.toString(8).padStart(length - 1, "0") + "\0", at, length);
  put(entry.name, 0, 100);
  octal(entry.mode ?? 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(0, 136, 12);
  h.fill(0x20, 148, 156); // checksum counts as spaces
  put(entry.type ?? "0", 156, 1);
  put(entry.linkname ?? "", 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

/** A gzip'd tar of `entries`, as npm packs them. */
export function makeTarball(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = typeof entry.body === "string" ? Buffer.from(entry.body) : (entry.body ?? Buffer.alloc(0));
    parts.push(header(entry, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

export const sri = (data: Buffer) => `sha512-${createHash("sha512").update(data).digest("base64")}`;

export interface FakePackage {
  readonly name: string;
  readonly version: string;
  /** Files beside package.json (`index.js` defaults to exporting the package's name and version). */
  readonly files?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly scripts?: Record<string, string>;
  /** package.json's `bin` (a path, or names to paths). */
  readonly bin?: string | Record<string, string>;
  readonly os?: string[];
  readonly cpu?: string[];
  /** Entries of the tarball instead of the generated ones. */
  readonly entries?: TarEntry[];
}

export function tarballOf(pkg: FakePackage): Buffer {
  if (pkg.entries) return makeTarball(pkg.entries);
  const manifest = {
    name: pkg.name,
    version: pkg.version,
    main: "index.js",
    dependencies: pkg.dependencies,
    optionalDependencies: pkg.optionalDependencies,
    scripts: pkg.scripts,
    bin: pkg.bin,
    os: pkg.os,
    cpu: pkg.cpu,
  };
  const files = { "index.js": `module.exports = ${JSON.stringify(`${pkg.name}@${pkg.version}`)};\n`, ...pkg.files };
  return makeTarball([
    { name: "package/package.json", body: JSON.stringify(manifest, null, 2) },
    ...Object.entries(files).map(([name, body]) => ({ name: `package/${name}`, body })),
  ]);
}

/**
 * What the registry says of a package's scripts: its own install scripts, or,
 * with a binding.gyp and no install/preinstall script, the `node-gyp rebuild`
 * npm publishes for it (the tarball's package.json keeps no such script).
 */
export function hasInstallScript(pkg: FakePackage): boolean {
  const scripts = pkg.scripts ?? {};
  const own = Object.keys(scripts).some((s) => /^(pre|post)?install$/.test(s));
  return own || (pkg.files?.["binding.gyp"] !== undefined && scripts.install === undefined && scripts.preinstall === undefined);
}

export interface Registry {
  readonly url: string;
  /** `GET /path` of every request, in order. */
  readonly requests: string[];
  tarball(name: string, version: string): Buffer;
  integrity(name: string, version: string): string;
  /** The package as the test described it. */
  manifest(name: string, version: string): FakePackage;
  /** Serve other bytes for this tarball (the packument keeps the true integrity). */
  tamper(name: string, version: string, bytes: Buffer): void;
  /** Wait this long before answering tarball requests. */
  delayTarballsMs: number;
  /** Answer every request with this status instead. */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** `token`: answer 401 to requests without `authorization: Bearer <token>` (a private registry). */
export async function startRegistry(packages: readonly FakePackage[], token?: string): Promise<Registry> {
  const tarballs = new Map<string, Buffer>();
  const served = new Map<string, Buffer>();
  for (const pkg of packages) tarballs.set(`${pkg.name}@${pkg.version}`, tarballOf(pkg));
  const requests: string[] = [];
  let url = "";
  const state = { delayTarballsMs: 0, failWith: undefined as number | undefined };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? "/");
    requests.push(`${req.method} ${path}`);
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end("unauthorized");
      return;
    }
    if (state.failWith !== undefined) {
      res.writeHead(state.failWith).end("failure");
      return;
    }
    const tgz = /^\/(.+)\/-\/[^/]+-(\d[^/]*)\.tgz$/.exec(path);
    if (tgz) {
      const key = `${tgz[1]}@${tgz[2]}`;
      const body = served.get(key) ?? tarballs.get(key);
      const answer = () => (body ? res.writeHead(200, { "content-type": "application/octet-stream" }).end(body) : res.writeHead(404).end());
      if (state.delayTarballsMs) setTimeout(answer, state.delayTarballsMs);
      else answer();
      return;
    }
    const name = path.slice(1);
    const versions = packages.filter((p) => p.name === name);
    if (versions.length === 0) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Not found"}');
      return;
    }
    const base = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
    const packument = {
      name,
      "dist-tags": { latest: versions[versions.length - 1]!.version },
      versions: Object.fromEntries(
        versions.map((p) => [
          p.version,
          {
            name,
            version: p.version,
            dependencies: p.dependencies,
            optionalDependencies: p.optionalDependencies,
            peerDependencies: p.peerDependencies,
            os: p.os,
            cpu: p.cpu,
            hasInstallScript: hasInstallScript(p) ? true : undefined,
            dist: { tarball: `${url}/${name}/-/${base}-${p.version}.tgz`, integrity: sri(tarballs.get(`${name}@${p.version}`)!) },
          },
        ]),
      ),
    };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(packument));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    get delayTarballsMs() {
      return state.delayTarballsMs;
    },
    set delayTarballsMs(ms: number) {
      state.delayTarballsMs = ms;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(status: number | undefined) {
      state.failWith = status;
    },
    tarball: (name, version) => tarballs.get(`${name}@${version}`)!,
    integrity: (name, version) => sri(tarballs.get(`${name}@${version}`)!),
    manifest: (name, version) => packages.find((p) => p.name === name && p.version === version)!,
    tamper: (name, version, bytes) => void served.set(`${name}@${version}`, bytes),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Environment for a tsexec run against `registry`: an isolated HOME (so ~/.npmrc and ~/.npm are the test's) and npm cache. */
export function npmEnv(registryUrl: string, home: string = tempDir("npm-home-")): Record<string, string> {
  return { HOME: home, npm_config_registry: `${registryUrl}/`, npm_config_cache: join(home, ".npm"), npm_config_userconfig: join(home, ".npmrc") };
}

/** A package-lock.json (v3) for a project whose packages are `entries` (lock path → package), `resolved` omitted as npm 11 does. */
export function packageLock(
  registry: Registry,
  root: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> },
  entries: Record<string, { name: string; version: string; dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[]; hasInstallScript?: boolean }>,
): string {
  const packages: Record<string, unknown> = { "": { name: "project", version: "1.0.0", ...root } };
  for (const [path, e] of Object.entries(entries)) {
    const aliasName = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    const manifest = registry.manifest(e.name, e.version);
    packages[path] = {
      ...(aliasName !== e.name ? { name: e.name } : {}),
      version: e.version,
      integrity: registry.integrity(e.name, e.version),
      ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
      ...(manifest.optionalDependencies ? { optionalDependencies: manifest.optionalDependencies } : {}),
      ...(e.dev ? { dev: true } : {}),
      ...(e.optional ? { optional: true } : {}),
      ...(e.os ? { os: e.os } : {}),
      ...(e.cpu ? { cpu: e.cpu } : {}),
      ...(e.hasInstallScript ? { hasInstallScript: true } : {}),
    };
  }
  return JSON.stringify({ name: "project", version: "1.0.0", lockfileVersion: 3, requires: true, packages }, null, 2);
}

export { writeTree };
