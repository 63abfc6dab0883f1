/**
 * The git reference a profile or shell argument names: a reference
 * (`github:…`, `git+file://…`) or a registry name expanded. Local paths are
 * refused: a profile pins a commit, and a directory has none.
 */
import type { PrimitiveContext } from "../../../monad/io.js";
import { TsexecError } from "../../../base/errors.js";
import { printable } from "../../../base/printable.js";
import { parseReference, type Reference } from "../../../inputs/reference.js";
import { expandRegistryName } from "../../../inputs/registry.js";
import { classifyTarget } from "../target.js";

export async function appReference(typed: string, ctx: PrimitiveContext, what: string): Promise<Reference> {
  const target = await classifyTarget(typed, ctx, "running");
  if (target.kind === "reference") return parseReference(typed);
  if (target.kind === "registry") {
    const found = expandRegistryName(typed, what);
    return { ...parseReference(found.expanded), typed, registry: found.expanded };
  }
  throw new TsexecError(
    `${what} takes a git reference (github:…, git+file://…?ref=…#app) or a registry name, and '${printable(typed)}' is a local path: it has no commit to pin`,
  );
}
