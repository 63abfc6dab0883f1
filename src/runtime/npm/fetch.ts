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

const timeoutMs = () => Number(process.env.TSEXEC_NPM_TIMEOUT) * 1000 || 60_000;

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
    const req = send(parsed, { headers, agent: secure ? agents.https : agents.http, timeout: timeoutMs() }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
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
        reject(new TsexecError(`${what}: the registry ${displayUrl(registry)} answered ${status} for ${displayUrl(url)}: ${advice}`));
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", (error) => reject(unreachable(what, registry, error)));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (error) => reject(unreachable(what, registry, error)));
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
