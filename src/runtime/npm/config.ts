/**
 * The user's npm configuration, as far as fetching packages needs it: the
 * registry (per scope), credentials per registry, and npm's cache directory.
 * Read as npm reads it, lowest precedence first: defaults, the user's
 * `~/.npmrc` (or `$npm_config_userconfig`), the project's `.npmrc`, then
 * `npm_config_*` environment variables.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { readBoundedText } from "../../base/bounded-read.js";

export const defaultRegistry = "https://registry.npmjs.org/";

export interface NpmConfig {
  /** The registry serving `name` (its scope's, else the default), ending in `/`. */
  registryFor(name: string): string;
  /** The Authorization header for a request to `url`, if the config holds credentials for it. */
  authorizationFor(url: string): string | undefined;
  /** npm's content-addressed cache (`<cache>/_cacache`). */
  readonly cacache: string;
  /** One setting (`nodedir`, `node-gyp`), as npm would see it. */
  setting(key: string): string | undefined;
  /**
   * The settings npm hands to lifecycle scripts as `npm_config_*` variables
   * (npm's set-envs: every key of the config files, except scopes, per-registry
   * `//…` keys and `_private` ones, which hold credentials), so node-gyp sees
   * `nodedir`, `python`, `dist-url`… as it does under npm.
   */
  scriptEnv(): Record<string, string>;
}

/** Parses npmrc (ini) text: `key = value` lines, `${VAR}` expanded, quoted values unquoted. */
export function parseNpmrc(text: string, env: NodeJS.ProcessEnv): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = expand(line.slice(0, eq).trim(), env);
    let value = line.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        value = value.slice(1, -1);
      }
    }
    out.set(key, expand(value, env));
  }
  return out;
}

function expand(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/(\\*)\$\{([^}?]+)(\?)?\}/g, (whole, escapes: string, name: string, optional?: string) => {
    if (escapes.length % 2 === 1) return whole.slice(1);
    const value = env[name];
    return escapes + (value ?? (optional ? "" : whole));
  });
}

/** `boundary`: where a link named .npmrc may lead (a project's stays in the project; the user's own may be anywhere). */
function readNpmrc(file: string, env: NodeJS.ProcessEnv, boundary?: string): Map<string, string> {
  // A project's .npmrc may be a FIFO or a link to /dev/zero in a cloned tree: read it bounded.
  const text = readBoundedText(file, { maxBytes: 1024 * 1024, boundary, fix: "replace it with a regular file, or remove it" });
  return text === undefined ? new Map() : parseNpmrc(text, env);
}

const withSlash = (url: string) => (url.endsWith("/") ? url : `${url}/`);

/** npm's "nerf dart" of a URL: `//host[:port]/path/`, the key prefix credentials are stored under. */
function nerfDarts(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const parts = parsed.pathname.split("/").slice(0, -1);
  const darts: string[] = [];
  for (let i = parts.length; i >= 1; i--) darts.push(`//${parsed.host}${parts.slice(0, i).join("/")}/`);
  return darts;
}

/** The npm configuration in effect for a project in `projectDir` (undefined: no project .npmrc). */
export function loadNpmConfig(projectDir: string | undefined, env: NodeJS.ProcessEnv = process.env): NpmConfig {
  const home = env.HOME || homedir();
  const fromEnv = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || !/^npm_config_/i.test(key)) continue;
    const name = key.slice("npm_config_".length);
    // npm turns `_` into `-` except in keys starting with `_` (`_authToken`) and scope keys.
    fromEnv.set(/^(_|\/\/|@)/.test(name) ? name : name.toLowerCase().replace(/_/g, "-"), value);
  }
  const userFile = fromEnv.get("userconfig") ?? join(home, ".npmrc");
  const files = [readNpmrc(userFile, env, "/"), projectDir === undefined ? new Map<string, string>() : readNpmrc(join(projectDir, ".npmrc"), env)];
  const layers = [...files, fromEnv];
  const get = (key: string): string | undefined => {
    for (let i = layers.length - 1; i >= 0; i--) {
      const value = layers[i]!.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const registry = withSlash(get("registry") || defaultRegistry);
  const cache = get("cache") ?? join(home, ".npm");
  return {
    cacache: join(cache, "_cacache"),
    setting: get,
    scriptEnv(): Record<string, string> {
      const out: Record<string, string> = {};
      for (const key of new Set(files.flatMap((layer) => [...layer.keys()]))) {
        if (/^[/@_]/.test(key)) continue;
        out[`npm_config_${key.replace(/-/g, "_").toLowerCase()}`] = get(key)!;
      }
      return out;
    },
    registryFor(name: string): string {
      if (name.startsWith("@")) {
        const scoped = get(`${name.slice(0, name.indexOf("/"))}:registry`);
        if (scoped) return withSlash(scoped);
      }
      return registry;
    },
    authorizationFor(url: string): string | undefined {
      for (const dart of nerfDarts(url)) {
        const token = get(`${dart}:_authToken`);
        if (token) return `Bearer ${token}`;
        const auth = get(`${dart}:_auth`);
        if (auth) return `Basic ${auth}`;
        const user = get(`${dart}:username`);
        const password = get(`${dart}:_password`);
        if (user && password) return `Basic ${Buffer.from(`${user}:${Buffer.from(password, "base64").toString("utf8")}`).toString("base64")}`;
      }
      // Legacy top-level credentials apply to the default registry only.
      if (url.startsWith(registry)) {
        const token = get("_authToken");
        if (token) return `Bearer ${token}`;
        const auth = get("_auth");
        if (auth) return `Basic ${auth}`;
      }
      return undefined;
    },
  };
}

/** Where `name@version`'s tarball is when the lock does not say (npm 11 omits `resolved`). */
export function tarballUrl(config: NpmConfig, name: string, version: string): string {
  const base = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
  return `${config.registryFor(name)}${name}/-/${base}-${version}.tgz`;
}

/** A registry URL for messages: no credentials, no query. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return url;
  }
}
