/**
 * `tsexec registry add NAME REF | remove NAME | list | pin NAME`: the short
 * names references and inputs may start with (src/inputs/registry.ts).
 */
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { printable } from "../../base/printable.js";
import { UsageError } from "../options.js";
import { readRegistry, registryFile, registryNamePattern, writeRegistry, type Registry } from "../../inputs/registry.js";
import type { CommandRun } from "./command.js";

const usage = "registry takes: add NAME REFERENCE | remove NAME | list | pin NAME";

export const run: CommandRun = async ({ args, ctx }) => {
  const [action, ...rest] = args;
  const write = (text: string) => process.stdout.write(text);
  switch (action) {
    case "list":
      if (rest.length !== 0) throw new UsageError(`registry list takes nothing more (${usage})`);
      list(readRegistry(), write);
      return 0;
    case "add":
      if (rest.length !== 2) throw new UsageError(`registry add takes a name and a reference (${usage})`);
      await add(rest[0]!, rest[1]!, write);
      return 0;
    case "remove":
      if (rest.length !== 1) throw new UsageError(`registry remove takes a name (${usage})`);
      remove(rest[0]!, write);
      return 0;
    case "pin":
      if (rest.length !== 1) throw new UsageError(`registry pin takes a name (${usage})`);
      await pin(rest[0]!, ctx, write);
      return 0;
    default:
      throw new UsageError(action === undefined ? usage : `unknown registry action '${printable(action)}': ${usage}`);
  }
};

function list(registry: Registry, write: (text: string) => void): void {
  const names = Object.keys(registry.entries).sort();
  if (names.length === 0) {
    write(`(the registry is empty: ${printable(registryFile())}; add an entry with tsexec registry add NAME REFERENCE)\n`);
    return;
  }
  const width = Math.max(...names.map((n) => n.length));
  write(names.map((name) => `${name.padEnd(width)}  ${printable(registry.entries[name]!)}`).join("\n") + "\n");
}

async function add(name: string, reference: string, write: (text: string) => void): Promise<void> {
  if (!registryNamePattern.test(name)) {
    throw new TsexecError(`'${printable(name)}' cannot be a registry name: a letter, then letters, digits, _ or - (no '.', so it never looks like a file name)`);
  }
  const { parseReference } = await import("../../inputs/reference.js");
  parseReference(reference); // a registry entry is a reference, checked now rather than when used
  const registry = readRegistry();
  const old = Object.hasOwn(registry.entries, name) ? registry.entries[name] : undefined;
  writeRegistry({ ...registry, entries: withEntry(registry.entries, name, reference) });
  write(old === undefined ? `added ${name} → ${printable(reference)}\n` : `changed ${name}: ${printable(old)} → ${printable(reference)}\n`);
}

function remove(name: string, write: (text: string) => void): void {
  const registry = readRegistry();
  if (!Object.hasOwn(registry.entries, name)) throw unknownName(name, registry);
  const removed = registry.entries[name];
  const entries = withEntry(registry.entries, name, undefined);
  writeRegistry({ ...registry, entries });
  write(`removed ${name} (was ${printable(removed!)})\n`);
}

/** Rewrites the entry to the commit its ref resolves to now (one round trip). */
async function pin(name: string, ctx: PrimitiveContext, write: (text: string) => void): Promise<void> {
  const registry = readRegistry();
  if (!Object.hasOwn(registry.entries, name)) throw unknownName(name, registry);
  const entry = registry.entries[name]!;
  const { parseReference } = await import("../../inputs/reference.js");
  const { fetchgitPath, makeRequest } = await import("../../builtins/fetchgit/index.js");
  const reference = parseReference(entry);
  const result = await fetchgitPath(makeRequest({ url: reference.url, rev: reference.rev ?? reference.ref ?? "HEAD" }, process.cwd(), ctx, 0));
  const pinned = reference.pinnedTo(result.commit);
  if (pinned !== entry) writeRegistry({ ...registry, entries: withEntry(registry.entries, name, pinned) });
  write(`pinned ${name}: ${printable(entry)} → ${printable(pinned)}\n`);
}

/** A copy of `entries` with `name` set to `reference` (removed when undefined), without a prototype: names are data. */
function withEntry(entries: Readonly<Record<string, string>>, name: string, reference: string | undefined): Record<string, string> {
  const copy = Object.assign(Object.create(null) as Record<string, string>, entries);
  if (reference === undefined) delete copy[name];
  else copy[name] = reference;
  return copy;
}

function unknownName(name: string, registry: Registry): TsexecError {
  const known = Object.keys(registry.entries);
  return new TsexecError(`unknown registry name '${printable(name)}' (${known.length ? `known: ${known.join(", ")}` : "the registry is empty"}; ${printable(registryFile())})`);
}
