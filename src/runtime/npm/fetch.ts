/**
 * Registry requests (packuments and tarballs) over node:http/https, with the
 * credentials the npm config holds for each URL, and npm's own cache
 * (cacache) read by integrity so a tarball npm already downloaded costs no
 * request. Every tarball is checked against its integrity before use.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { displayUrl, type NpmConfig } from "./config.js";

const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 16 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 16 }) };

/** Closes kept-alive sockets, so they do not hold the process open once installs are done. */
export function closeConnections(): void {
  agents.http.destroy();
  agents.https.destroy();
  agents.http = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  agents.https = new HttpsAgent({ keepAlive: true, maxSockets: 16 });
}

/** The longest silence on a connection (TSEXEC_NPM_TIMEOUT, seconds). */
const timeoutMs = () => Number(process.env.TSEXEC_NPM_TIMEOUT) * 1000 || 60_000;

/**
 * The longest one request may take in all, however steadily bytes trickle in
 * (TSEXEC_HTTP_TIMEOUT, seconds): a registry sending a byte a second never
 * trips the silence limit above.
 */
export const totalTimeoutMs = (env: NodeJS.ProcessEnv = process.env): number => positive(Number(env.TSEXEC_HTTP_TIMEOUT)) * 1000 || 300_000;

/**
 * The largest response body tsexec keeps (TSEXEC_MAX_RESPONSE: bytes, or with
 * a K, M or G suffix): far above the largest packument or tarball, far below
 * what an endless body would fill memory with.
 */
export function maxResponseBytes(env: NodeJS.ProcessEnv = process.env): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg])?i?b?\s*$/i.exec(env.TSEXEC_MAX_RESPONSE ?? "");
  if (!m) return 512 * 1024 * 1024;
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").toLowerCase() as "k" | "m" | "g"] ?? 1;
  return positive(Math.floor(Number(m[1]) * unit)) || 512 * 1024 * 1024;
}

const positive = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);

const formatBytes = (n: number) => (n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`);

/**
 * GETs `url`; `what` names the package in errors, `registry` the registry.
 * Resolves to undefined on 404 when `allowMissing`.
 */
export function get(url: string, config: NpmConfig, what: string, registry: string, accept = "*/*", redirects = 5): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new TsexecError(`${what}: '${displayUrl(url)}' is not a URL tsexec can fetch`));
      return;
    }
    const secure = parsed.protocol === "https:";
    if (!secure && parsed.protocol !== "http:") {
      reject(new TsexecError(`${what}: '${displayUrl(url)}' is not an http(s) URL; tsexec fetches packages from registries only`));
      return;
    }
    const headers: Record<string, string> = { accept, "user-agent": `tsexec (node ${process.version})` };
    const authorization = config.authorizationFor(url);
    if (authorization) headers.authorization = authorization;
    const send = secure ? httpsRequest : httpRequest;
    const maxBytes = maxResponseBytes();
    const totalMs = totalTimeoutMs();
    // One bound on the whole request (connect, headers, body), besides the silence limit.
    let settled = false;
    const fail = (error: TsexecError) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      reject(error);
    };
    const deadline = setTimeout(
      () =>
        fail(
          new TsexecError(
            `${what}: ${displayUrl(url)} did not answer in full within ${totalMs / 1000} s (TSEXEC_HTTP_TIMEOUT): the registry ${displayUrl(registry)} is too slow; try again later, or raise TSEXEC_HTTP_TIMEOUT`,
          ),
        ),
      totalMs,
    );
    const tooLarge = (size: number) =>
      fail(
        new TsexecError(
          `${what}: the response from ${displayUrl(url)} is ${size > maxBytes ? `larger than ${formatBytes(maxBytes)}` : formatBytes(size)}, over tsexec's limit of ${formatBytes(maxBytes)} (TSEXEC_MAX_RESPONSE): the registry ${displayUrl(registry)} sent more than any package; raise TSEXEC_MAX_RESPONSE if it is genuine`,
        ),
      );
    const req = send(parsed, { headers, agent: secure ? agents.https : agents.http, timeout: timeoutMs() }, (res: IncomingMessage) => {
      if (settled) {
        res.destroy();
        return;
      }
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        settled = true;
        clearTimeout(deadline);
        res.resume();
        get(new URL(res.headers.location, url).href, config, what, registry, accept, redirects - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        const advice =
          status === 404
            ? "check the name and version, and that your npm config (registry, @scope:registry) points at the registry that has it"
            : status === 401 || status === 403
              ? "check the credentials for it in your .npmrc (//host/:_authToken)"
              : "try again later, or point npm_config_registry at another registry";
        settled = true;
        clearTimeout(deadline);
        reject(new TsexecError(`${what}: the registry ${displayUrl(registry)} answered ${status} for ${displayUrl(url)}: ${advice}`));
        return;
      }
      const declared = Number(res.headers["content-length"]);
      if (declared > maxBytes) {
        tooLarge(declared);
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes) tooLarge(received);
        else chunks.push(chunk);
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(Buffer.concat(chunks));
      });
      res.on("error", (error) => fail(unreachable(what, registry, error)));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (error) => fail(unreachable(what, registry, error)));
    req.end();
  });
}

function unreachable(what: string, registry: string, error: Error): TsexecError {
  const code = (error as NodeJS.ErrnoException).code ?? error.message;
  return new TsexecError(
    `${what}: cannot reach the registry ${displayUrl(registry)} (${code}): check the network, or the registry in your npm config (npm_config_registry, .npmrc); --offline uses only what is cached`,
  );
}

// ---- integrity ----

export interface Integrity {
  readonly algorithm: "sha512" | "sha384" | "sha256" | "sha1";
  readonly digest: string;
}

const strength = ["sha1", "sha256", "sha384", "sha512"] as const;

/** The strongest hash of an SRI string (`sha512-… sha1-…`). */
export function parseIntegrity(sri: string): Integrity | undefined {
  let best: Integrity | undefined;
  for (const part of sri.trim().split(/\s+/)) {
    const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+=*)(\?.*)?$/.exec(part);
    if (!m) continue;
    const algorithm = m[1] as Integrity["algorithm"];
    if (best === undefined || strength.indexOf(algorithm) > strength.indexOf(best.algorithm)) best = { algorithm, digest: m[2]! };
  }
  return best;
}

export function integrityOf(data: Buffer, algorithm: Integrity["algorithm"]): string {
  return `${algorithm}-${createHash(algorithm).update(data).digest("base64")}`;
}

/** Throws, naming the package and both hashes, unless `data` has the expected integrity. */
export function verifyIntegrity(data: Buffer, expected: Integrity, what: string, from: string): void {
  const actual = integrityOf(data, expected.algorithm);
  if (actual !== `${expected.algorithm}-${expected.digest}`) {
    throw new TsexecError(
      `integrity mismatch for ${what} (from ${from}): the lock expects ${expected.algorithm}-${expected.digest}, the tarball is ${actual}; nothing was stored: if the lock is right, the registry or cache served other bytes`,
    );
  }
}

/** The tarball from npm's cache (content-v2 is addressed by the integrity), verified; undefined if absent or corrupt. */
export function fromNpmCache(cacache: string, integrity: Integrity): Buffer | undefined {
  const hex = Buffer.from(integrity.digest, "base64").toString("hex");
  const file = join(cacache, "content-v2", integrity.algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  return integrityOf(data, integrity.algorithm) === `${integrity.algorithm}-${integrity.digest}` ? data : undefined;
}

/** A short, path-safe hash of an integrity, for store entry names. */
export function shortHash(integrity: Integrity): string {
  return Buffer.from(integrity.digest, "base64").toString("hex").slice(0, 16);
}

/**
 * A packument npm cached (make-fetch-happen's index-v5 bucket for the URL,
 * then its content by integrity), for --offline resolution; undefined if npm
 * never fetched it.
 */
export function packumentFromNpmCache(cacache: string, url: string, freshOnly = false, now = Date.now()): Buffer | undefined {
  const key = `make-fetch-happen:request-cache:${url}`;
  const hex = createHash("sha256").update(key).digest("hex");
  let lines: string[];
  try {
    lines = readFileSync(join(cacache, "index-v5", hex.slice(0, 2), hex.slice(2, 4), hex.slice(4)), "utf8").split("\n");
  } catch {
    return undefined;
  }
  // The newest entry is the last line; each is `<sha1 of the JSON>\t<JSON>`.
  for (let i = lines.length - 1; i >= 0; i--) {
    const tab = lines[i]!.indexOf("\t");
    if (tab < 0) continue;
    try {
      const entry = JSON.parse(lines[i]!.slice(tab + 1)) as { key?: unknown; integrity?: unknown; time?: unknown; metadata?: unknown };
      if (entry.key !== key || typeof entry.integrity !== "string") continue;
      // The newest entry decides freshness: an older one is older still.
      if (freshOnly && !isFresh(entry, now)) return undefined;
      const integrity = parseIntegrity(entry.integrity);
      const data = integrity && fromNpmCache(cacache, integrity);
      if (data) return data;
    } catch {
      // A torn line: older entries may still serve.
    }
  }
  return undefined;
}

/**
 * Whether npm's cache entry is still fresh by the registry's own `cache-control: max-age` (the
 * registry says 300 s), counted from when npm stored it: npm itself answers from it without a
 * request then, so tsexec may too. No max-age, no-cache, or a time in the future: not fresh.
 */
function isFresh(entry: { time?: unknown; metadata?: unknown }, now: number): boolean {
  if (typeof entry.time !== "number" || entry.time > now) return false;
  const headers = (entry.metadata as { resHeaders?: Record<string, unknown> } | undefined)?.resHeaders;
  const control = headers?.["cache-control"];
  if (typeof control !== "string" || /no-cache|no-store/i.test(control)) return false;
  const maxAge = /(?:^|[,\s])max-age=(\d{1,9})/i.exec(control);
  return maxAge !== null && now - entry.time < Number(maxAge[1]) * 1000;
}
