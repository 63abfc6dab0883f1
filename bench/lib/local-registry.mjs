// A registry on 127.0.0.1 serving packages made here (a small ustar writer, then gzip), for
// bench/npm-resolve.mjs: `npm:`/project resolution without a lock, measured on a tree of known
// size with no other network in the way. `latencyMs` delays each answer (a real registry's round trip).
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";

function header(name, size) {
  const h = Buffer.alloc(512);
  const put = (text, at, length) => h.write(text, at, length, "utf8");
  const octal = (value, at, length) => put(value.toString(8).padStart(length - 1, "0") + "\0", at, length);
  put(name, 0, 100);
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(0, 136, 12);
  h.fill(0x20, 148, 156);
  put("0", 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

function tarball(files) {
  const parts = [];
  for (const [name, text] of Object.entries(files)) {
    const body = Buffer.from(text);
    parts.push(header(`package/${name}`, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

/**
 * `count` packages bench-p0 … bench-p<count-1>, two versions each (1.0.0, 1.1.0); bench-pI depends on
 * bench-p(2I+1) and bench-p(2I+2) (a binary tree: seven levels for 70, each level a round of requests
 * for a resolver that waits on one before the next). Returns the root package names.
 */
export async function startLocalRegistry({ count = 70, latencyMs = 0 } = {}) {
  const packuments = new Map();
  const tarballs = new Map();
  let url = "";
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? "/");
    const answer = () => {
      const tgz = tarballs.get(path);
      if (tgz) return res.writeHead(200, { "content-type": "application/octet-stream" }).end(tgz);
      const packument = packuments.get(path.slice(1));
      if (packument) return res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=300" }).end(packument(url));
      res.writeHead(404).end("{}");
    };
    if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}`;
  for (let i = 0; i < count; i++) {
    const name = `bench-p${i}`;
    const dependencies = Object.fromEntries([2 * i + 1, 2 * i + 2].filter((k) => k < count).map((k) => [`bench-p${k}`, "^1.0.0"]));
    const versions = {};
    for (const version of ["1.0.0", "1.1.0"]) {
      const requires = Object.keys(dependencies).map((d) => `require(${JSON.stringify(d)})`).join(", ");
      const data = tarball({
        "package.json": JSON.stringify({ name, version, main: "index.js", dependencies }),
        "index.js": `${requires};\nmodule.exports = ${JSON.stringify(`${name}@${version}`)};\n`,
      });
      const tgzPath = `/${name}/-/${name}-${version}.tgz`;
      tarballs.set(tgzPath, data);
      versions[version] = {
        name,
        version,
        dependencies,
        dist: { integrity: `sha512-${createHash("sha512").update(data).digest("base64")}`, tarball: tgzPath },
      };
    }
    packuments.set(name, (base) => {
      const withUrls = Object.fromEntries(Object.entries(versions).map(([v, m]) => [v, { ...m, dist: { ...m.dist, tarball: `${base}${m.dist.tarball}` } }]));
      return JSON.stringify({ name, "dist-tags": { latest: "1.1.0" }, versions: withUrls });
    });
  }
  return { url, roots: ["bench-p0"], close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * The registry in a process of its own (the benchmark times commands with execFileSync, which
 * would block a server in its own process): prints its URL, serves until killed.
 *     node bench/lib/local-registry.mjs COUNT LATENCY_MS
 */
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const registry = await startLocalRegistry({ count: Number(process.argv[2] ?? 70), latencyMs: Number(process.argv[3] ?? 0) });
  process.stdout.write(`${registry.url}\n`);
}
