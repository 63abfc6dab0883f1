/**
 * Running a script (the default command): locate it (a path or a git
 * reference), import it, call its default export with `{ args, lib }`, run
 * the IO value it returns to the end.
 */
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { isIO, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../errors.js";
import { run } from "../interpreter.js";
import { makeLib } from "../lib.js";
import { defaultExport, importScript, locateScript } from "../loader/index.js";
import { appScript } from "../apps.js";
import type { Input } from "../inputs.js";
import { recallInputs } from "../inputs-memo.js";
import { lookupRegistry, mayBeRegistryReference, readRegistry, splitRegistryReference } from "../registry.js";
import { printable } from "../printable.js";
import { looksLikeReference } from "./index.js";

const noInputs: Readonly<Record<string, Input>> = Object.freeze({});

export async function runScript(script: string, scriptArgs: readonly string[], ctx: PrimitiveContext): Promise<void> {
  const file = await locateAny(script, ctx);
  // --check: type errors stop the run before any of the script's code runs.
  if (ctx.options.check === true) await (await import("./check.js")).checkBeforeRun(file, ctx.cacheDir);
  const { namespace, inputs: declaration } = await importScript(file, ctx.cacheDir);
  if (!("default" in namespace)) {
    throw new TsexecError(`${script} does not export a function (it has no default export): add \`export default ({ args, lib }) => ...\``);
  }
  const exported = defaultExport(namespace);
  if (typeof exported !== "function") {
    throw new TsexecError(`${script} does not export a function (it exports ${describeValue(exported)})`);
  }
  // Seen before anything runs: an async function can only ever return a Promise.
  if (exported.constructor?.name === "AsyncFunction") {
    throw new TsexecError(
      `the function exported by ${script} is async, so it returns a Promise, not an IO value: ` +
        `drop \`async\` and wrap asynchronous work in lib.task(() => promise)`,
    );
  }
  if (declaration === undefined && "inputs" in namespace && namespace.inputs !== undefined) {
    throw new TsexecError(
      `${script} exports 'inputs' that tsexec cannot read without running it: declare them in the script itself, as \`export const inputs = { name: "reference", … }\``,
    );
  }
  // Declared inputs are fetched (through tsexec.lock) before the function is called.
  const inputs =
    declaration === undefined || Object.keys(declaration).length === 0
      ? noInputs
      : ((ctx.options.frozen === true ? undefined : recallInputs(file, declaration, ctx.cacheDir)) ??
        (await (await import("../locked-inputs.js")).provideInputs(file, declaration, ctx)));
  const program: unknown = exported({ args: [script, ...scriptArgs], lib: makeLib({ dir: dirname(file) }), inputs });
  if (!isIO(program)) {
    const hint =
      describeValue(program) === "a Promise"
        ? ": a Promise is not an IO value (is the function async?); wrap asynchronous work in lib.task(() => promise)"
        : program === undefined
          ? " (did the function forget to return?)"
          : "";
    throw new TsexecError(`the function exported by ${script} returned ${describeValue(program)}, not an IO value${hint}`);
  }
  await runToTheEnd(program, ctx);
}

/**
 * The file a script argument names: a git reference (fetched, or found in the
 * cache; args[0] stays as typed), a local path, a local directory's app
 * (`./tools#deploy`, `.#deploy`), or a registry name (`tools#deploy`).
 */
export async function locateAny(script: string, ctx: PrimitiveContext): Promise<string> {
  if (looksLikeReference(script)) return (await import("../reference.js")).resolveReferenceScript(script, ctx);
  // A plain script path (`hello.ts`) costs what it always did: one stat in locateScript.
  if (/\.[A-Za-z0-9]+$/.test(script) && !script.includes("#")) return locateScript(script);
  const kind = pathKind(script);
  if (kind !== undefined) warnIfShadowing(script, kind, ctx);
  if (kind === "directory") return appScript(script, script, undefined, `'${script}'`) ?? locateScript(script);
  if (kind === "file") return locateScript(script);
  const hashAt = script.indexOf("#");
  if (hashAt > 0 && pathKind(script.slice(0, hashAt)) === "directory") {
    warnIfShadowing(script, "directory", ctx);
    const dir = script.slice(0, hashAt);
    const fragment = script.slice(hashAt + 1);
    if (fragment === "") return appScript(dir, dir, undefined, `'${dir}'`) ?? locateScript(dir);
    return appScript(dir, dir, fragment, `'${dir}'`) ?? locateScript(join(dir, fragment));
  }
  if (!mayBeRegistryReference(script)) return locateScript(script);
  return runRegistryReference(script, ctx);
}

/** `tools#deploy`, `tools/v3#deploy`: a registry name expanded to its reference. */
async function runRegistryReference(script: string, ctx: PrimitiveContext): Promise<string> {
  const found = lookupRegistry(script);
  if (found === undefined) {
    const name = splitRegistryReference(script)?.name ?? script;
    const known = Object.keys(readRegistry().entries);
    throw new TsexecError(
      `cannot find script '${printable(script)}': no such file or directory, and '${printable(name)}' is not a registry name ` +
        `(${known.length ? `known: ${known.join(", ")}` : "the registry is empty"}; add one with tsexec registry add ${printable(name)} <reference>)`,
    );
  }
  const { checkoutReference, parseReference, referenceScript } = await import("../reference.js");
  const reference = { ...parseReference(found.expanded), typed: script, registry: found.expanded };
  return referenceScript(await checkoutReference(reference, ctx));
}

/** A file or directory named like a registry entry runs (the file wins); one line says which entry it shadows. */
function warnIfShadowing(script: string, kind: "file" | "directory", ctx: PrimitiveContext): void {
  if (!mayBeRegistryReference(script)) return;
  let found;
  try {
    found = lookupRegistry(script);
  } catch {
    return; // a broken registry does not stop a local file from running
  }
  if (found !== undefined) {
    ctx.log(`warning: '${script}' is a ${kind} here and also registry entry '${found.name}' (${printable(found.entry)}): running the ${kind}; write ./${script} to say so, or rename one of them`);
  }
}

function pathKind(path: string): "file" | "directory" | undefined {
  try {
    return statSync(path).isDirectory() ? "directory" : "file";
  } catch {
    return undefined;
  }
}

/**
 * Runs the program; if Node's event loop empties while the program still
 * waits on a step (a promise nothing will settle), that is an error naming the
 * step, not Node's silent exit 13.
 */
async function runToTheEnd(program: IO<unknown>, ctx: PrimitiveContext): Promise<void> {
  let waitingOn = "an asynchronous step";
  let stuck: (error: TsexecError) => void = () => {};
  const onEmptyLoop = () =>
    stuck(
      new TsexecError(
        `the program can never finish: it waits on ${waitingOn}, whose promise nothing is left to settle (no timer, socket or child process is pending)`,
      ),
    );
  process.once("beforeExit", onEmptyLoop);
  try {
    await Promise.race([
      run(program, ctx, (step) => (waitingOn = step)),
      new Promise<never>((_, reject) => (stuck = reject)),
    ]);
  } finally {
    process.off("beforeExit", onEmptyLoop);
  }
}
