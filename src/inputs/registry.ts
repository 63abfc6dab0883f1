/**
 * The registry: short names for git references, as nix's flake registry turns
 * `nixpkgs` into `github:NixOS/nixpkgs`.
 *
 *     $XDG_CONFIG_HOME/tsexec/registry.json   (else ~/.config/tsexec/registry.json)
 *     { "entries": { "tools": "github:acme/tools" }, "version": 1 }
 *
 * `tsexec tools#deploy`, `tsexec tools/v3#deploy` (a ref after the name
 * replaces the entry's), and inputs declared as `"tools"` or `"tools/v3"`
 * expand through it. Written atomically (temp then rename).
 */
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { readBounded } from "../base/bounded-read.js";
import { TsexecError } from "../base/errors.js";
import { makeDirectory, writeFileAtomic } from "../base/files.js";
import { printable } from "../base/printable.js";
import { splitRegistryReference } from "./registry-name.js";

export { mayBeRegistryReference, splitRegistryReference } from "./registry-name.js";

export const registryVersion = 1;

export interface Registry {
  readonly version: typeof registryVersion;
  /** Name → reference (any form parseReference accepts). */
  readonly entries: Readonly<Record<string, string>>;
}

/** A registry name: a letter, then letters, digits, `_` and `-` (no dot, so `hello.ts` is never one). */
export const registryNamePattern = /^[A-Za-z][A-Za-z0-9_-]*$/;

export function registryFile(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(config, "tsexec", "registry.json");
}

/** The registry (empty when there is no file). A corrupt one is an error naming the file. */
export function readRegistry(file: string = registryFile()): Registry {
  // A registry of names is a few KiB: a FIFO, a device or a huge file there is refused, not read.
  const read = readBounded(file, { maxBytes: 4 * 1024 * 1024, boundary: "/" });
  if (read.kind === "absent") return { version: registryVersion, entries: Object.create(null) as Record<string, string> };
  if (read.kind === "refused") throw new TsexecError(`cannot read the registry ${printable(file)}: it is ${read.why}: replace it with a regular file, or remove it`);
  const text = read.text;
  const fix = "fix it, or remove it and add the entries again with tsexec registry add";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TsexecError(`${file}: the registry is not valid JSON: ${fix}`);
  }
  const root = value as Record<string, unknown>;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TsexecError(`${file}: the registry must be a JSON object: ${fix}`);
  if (typeof root.version === "number" && root.version > registryVersion) {
    throw new TsexecError(`${file}: registry format version ${root.version} is newer than this tsexec understands (${registryVersion}): upgrade tsexec`);
  }
  if (root.version !== registryVersion) throw new TsexecError(`${file}: "version" must be ${registryVersion}: ${fix}`);
  for (const key of Object.keys(root)) {
    if (key !== "version" && key !== "entries") throw new TsexecError(`${file}: unknown field '${printable(key)}' (known: version, entries): ${fix}`);
  }
  const entries = root.entries ?? {};
  if (typeof entries !== "object" || entries === null || Array.isArray(entries)) throw new TsexecError(`${file}: "entries" must be an object: ${fix}`);
  for (const [name, reference] of Object.entries(entries)) {
    if (!registryNamePattern.test(name)) throw new TsexecError(`${file}: entry '${printable(name)}' is not a registry name (a letter, then letters, digits, _ or -): ${fix}`);
    if (typeof reference !== "string" || reference === "") throw new TsexecError(`${file}: entry '${name}' must be a reference string: ${fix}`);
  }
  // No prototype: a name such as `constructor` or `toString` is looked up as the entry it is, never as Object's.
  return { version: registryVersion, entries: Object.assign(Object.create(null) as Record<string, string>, entries) };
}

export function writeRegistry(registry: Registry, file: string = registryFile()): void {
  const sorted = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(registry.entries).sort()) sorted[name] = registry.entries[name]!;
  try {
    makeDirectory(dirname(file));
    writeFileAtomic(file, `${JSON.stringify({ entries: sorted, version: registryVersion }, null, 2)}\n`);
  } catch (error) {
    throw new TsexecError(`cannot write the registry ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}): make its directory writable, or set XDG_CONFIG_HOME`);
  }
}

export interface RegistryExpansion {
  readonly name: string;
  /** The registry's entry. */
  readonly entry: string;
  /** The reference `typed` stands for: the entry with the typed ref and fragment. */
  readonly expanded: string;
}

/**
 * The reference a registry name stands for, or undefined when `typed` is not
 * spelled like one or its name is not in the registry.
 */
export function lookupRegistry(typed: string, registry: Registry = readRegistry()): RegistryExpansion | undefined {
  const parts = splitRegistryReference(typed);
  if (parts === undefined || !Object.hasOwn(registry.entries, parts.name)) return undefined;
  const entry = registry.entries[parts.name]!;
  return { name: parts.name, entry, expanded: withRefAndFragment(entry, parts.ref, parts.fragment) };
}

/** Like lookupRegistry, but an unknown name is an error. */
export function expandRegistryName(typed: string, what: string): RegistryExpansion {
  const registry = readRegistry();
  const found = lookupRegistry(typed, registry);
  if (found !== undefined) return found;
  const name = splitRegistryReference(typed)?.name ?? typed;
  const known = Object.keys(registry.entries);
  throw new TsexecError(
    `unknown registry name '${printable(name)}' in ${what} (${known.length ? `known: ${known.join(", ")}` : "the registry is empty"}): ` +
      `add it with tsexec registry add ${printable(name)} <reference>, or write a reference (github:…, git+https://…, git+file://…)`,
  );
}

/** `entry` with its ref replaced by `ref` (a full hash becomes a rev) and its fragment by `fragment`, when given. */
export function withRefAndFragment(entry: string, ref: string | undefined, fragment: string | undefined): string {
  const hashAt = entry.indexOf("#");
  const base = hashAt < 0 ? entry : entry.slice(0, hashAt);
  const ownFragment = hashAt < 0 ? undefined : entry.slice(hashAt + 1);
  const tail = fragment ?? ownFragment;
  const withFragment = (text: string) => (tail === undefined ? text : `${text}#${tail}`);
  if (ref === undefined) return withFragment(base);
  const isHash = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(ref);
  if (base.startsWith("github:")) {
    const queryAt = base.indexOf("?");
    const address = queryAt < 0 ? base : base.slice(0, queryAt);
    const query = queryAt < 0 ? "" : base.slice(queryAt);
    const [owner, repo] = address.slice("github:".length).split("/");
    const params = new URLSearchParams(query.slice(1));
    params.delete("rev");
    params.delete("ref");
    const rest = params.toString();
    return withFragment(`github:${owner}/${repo}/${ref}${rest ? `?${rest}` : ""}`);
  }
  const queryAt = base.indexOf("?");
  const params = new URLSearchParams(queryAt < 0 ? "" : base.slice(queryAt + 1));
  params.delete("rev");
  params.delete("ref");
  params.set(isHash ? "rev" : "ref", ref);
  return withFragment(`${queryAt < 0 ? base : base.slice(0, queryAt)}?${params.toString()}`);
}
