/**
 * `tsexec init [DIR] --template REF[#NAME]`: copies a template of a git
 * reference, registry name or local directory (src/inputs/template.ts) into
 * DIR, never overwriting a file, and prints its next steps.
 */
import { realpathSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { PrimitiveContext } from "../../../monad/io.js";
import { TsexecError } from "../../../base/errors.js";
import { printable } from "../../../base/printable.js";
import { copyTemplate, findTemplate } from "../../../inputs/template.js";
import { classifyTarget } from "../target.js";

export async function initFromTemplate(dir: string, typed: string, ctx: PrimitiveContext): Promise<void> {
  const hashAt = typed.lastIndexOf("#");
  const source = hashAt < 0 ? typed : typed.slice(0, hashAt);
  const name = hashAt < 0 || hashAt === typed.length - 1 ? undefined : typed.slice(hashAt + 1);
  const { root, boundary, what } = await templateSource(source, ctx);
  const template = findTemplate(root, boundary, name, what);
  const dest = resolve(dir);
  const made = copyTemplate(template, dest, `template '${template.name}' of ${what}`);
  const fromHere = relative(process.cwd(), dest);
  const shown = fromHere === "" ? "." : fromHere.startsWith("..") ? dest : fromHere;
  const lines = [`Created ${made.length} file${made.length === 1 ? "" : "s"} in ${shown} from template '${printable(template.name)}' of ${what}${template.description ? `: ${printable(template.description)}` : ""}.`];
  lines.push(template.welcomeText !== undefined ? printable(template.welcomeText).replace(/\\n/g, "\n") : `Next: cd ${shown}${made.includes("package.json") ? " && npm install" : ""}, then read its README or run its scripts with tsexec.`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Where a template source lives: a reference's checkout (its `?dir=`), or a local directory. */
async function templateSource(source: string, ctx: PrimitiveContext): Promise<{ root: string; boundary: string; what: string }> {
  const target = await classifyTarget(source, ctx, "listing");
  if (target.kind === "local" && target.is === "directory") {
    const real = realpathSync(target.path);
    return { root: real, boundary: real, what: `'${printable(source)}'` };
  }
  if (target.kind === "reference" || target.kind === "registry") {
    const { checkoutReference, parseReference } = await import("../../../inputs/reference.js");
    let reference = parseReference(source);
    if (target.kind === "registry") {
      const { expandRegistryName } = await import("../../../inputs/registry.js");
      reference = { ...parseReference(expandRegistryName(source, "init --template").expanded), typed: source };
    }
    const resolved = await checkoutReference(reference, ctx);
    return { root: resolved.root, boundary: realpathSync(resolved.checkout), what: `${printable(source)} (commit ${resolved.commit})` };
  }
  throw new TsexecError(`--template '${printable(source)}' names no directory and no reference: give a git reference (github:…, git+file://…), a registry name, or a local directory`);
}
