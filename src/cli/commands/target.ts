/**
 * What a command-line target names: the one rule `tsexec <target>` (run.ts)
 * and `tsexec show <target>` (show.ts) share, so the two never disagree.
 * In order, the first that holds:
 *
 *  1. `scheme:…` that is not an existing file: a git reference (`github:…`, `git+https://…`).
 *  2. A name ending in an extension, without `#` (`hello.ts`, `./x/tool.ts`): a path, existing or not.
 *  3. An existing file or directory (`.`, `./dir`, `/abs/dir`, `../x`, or a bare `tools`): a path.
 *  4. `<existing directory>#<fragment>` (`.#deploy`, `./tools#bin/x.ts`): that directory, narrowed.
 *  5. Spelled like a registry name (`tools`, `tools/v3#deploy`): the registry.
 *  6. Anything else: a path that does not exist.
 *
 * So `./x` is always a path; a bare word is a path when a file or directory of
 * that name exists here (with one warning if the registry has the name too),
 * and a registry name otherwise.
 */
import { existsSync, statSync } from "node:fs";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { printable } from "../../base/printable.js";
import { mayBeRegistryReference, splitRegistryReference } from "../../inputs/registry-name.js";

export type Target =
  | { readonly kind: "reference" }
  /** `npm:name[@range][#bin]` that is not an existing file: a published package's bin (npx's job). */
  | { readonly kind: "npm" }
  | { readonly kind: "registry" }
  /** A path named by its extension (rule 2): existence not checked, one stat fewer for `tsexec hello.ts`. */
  | { readonly kind: "script"; readonly path: string }
  /** An existing file or directory, and the fragment after `dir#` (rules 3 and 4). */
  | { readonly kind: "local"; readonly path: string; readonly is: "file" | "directory"; readonly fragment: string | undefined }
  | { readonly kind: "missing"; readonly path: string };

/** An argument written as a reference (`git+https://…`, `github:…`) rather than a path. */
export function looksLikeReference(arg: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(arg) && !existsSync(arg);
}

/**
 * Classifies `typed` (see the module comment); a path that shadows a registry entry gets one
 * warning line. The registry itself is read only for a name spelled like one of its entries.
 */
export async function classifyTarget(typed: string, ctx: PrimitiveContext, doing: "running" | "listing"): Promise<Target> {
  if (looksLikeReference(typed)) return typed.startsWith("npm:") ? { kind: "npm" } : { kind: "reference" };
  if (/\.[A-Za-z0-9]+$/.test(typed) && !typed.includes("#")) return { kind: "script", path: typed };
  const is = pathKind(typed);
  if (is !== undefined) {
    await warnIfShadowing(typed, is, ctx, doing);
    return { kind: "local", path: typed, is, fragment: undefined };
  }
  const hashAt = typed.indexOf("#");
  if (hashAt > 0 && pathKind(typed.slice(0, hashAt)) === "directory") {
    await warnIfShadowing(typed, "directory", ctx, doing);
    const fragment = typed.slice(hashAt + 1);
    return { kind: "local", path: typed.slice(0, hashAt), is: "directory", fragment: fragment === "" ? undefined : fragment };
  }
  if (mayBeRegistryReference(typed)) return { kind: "registry" };
  return { kind: "missing", path: typed };
}

/** The error for a registry-shaped target whose name is neither a file here nor in the registry. */
export async function unknownTargetError(typed: string, what = ""): Promise<TsexecError> {
  const name = splitRegistryReference(typed)?.name ?? typed;
  const { readRegistry } = await import("../../inputs/registry.js");
  const known = Object.keys(readRegistry().entries);
  return new TsexecError(
    `cannot find ${what ? `${what} ` : ""}'${printable(typed)}': no such file or directory, and '${printable(name)}' is not a registry name ` +
      `(${known.length ? `known: ${known.join(", ")}` : "the registry is empty"}; add one with tsexec registry add ${printable(name)} <reference>)`,
  );
}

/** A file or directory named like a registry entry is the path (the file wins); one line says which entry it shadows. */
async function warnIfShadowing(typed: string, kind: "file" | "directory", ctx: PrimitiveContext, doing: string): Promise<void> {
  if (!mayBeRegistryReference(typed)) return;
  const { lookupRegistry } = await import("../../inputs/registry.js");
  let found;
  try {
    found = lookupRegistry(typed);
  } catch {
    return; // a broken registry does not stop a local file from being used
  }
  if (found !== undefined) {
    ctx.log(
      `warning: '${printable(typed)}' is a ${kind} here and also registry entry '${found.name}' (${printable(found.entry)}): ${doing} the ${kind}; write ./${printable(typed)} to say so, or rename one of them`,
    );
  }
}

function pathKind(path: string): "file" | "directory" | undefined {
  try {
    return statSync(path).isDirectory() ? "directory" : "file";
  } catch {
    return undefined;
  }
}
