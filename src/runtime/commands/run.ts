/**
 * Running a script (the default command): locate it (a path or a git
 * reference), import it, call its default export with `{ args, lib }`, run
 * the IO value it returns to the end.
 */
import { dirname } from "node:path";
import { isIO, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../errors.js";
import { run } from "../interpreter.js";
import { makeLib } from "../lib.js";
import { defaultExport, importModule, locateScript } from "../loader/index.js";
import { looksLikeReference } from "./index.js";

export async function runScript(script: string, scriptArgs: readonly string[], ctx: PrimitiveContext): Promise<void> {
  // A git reference is fetched (or found in the cache) and runs from its read-only checkout; args[0] stays as typed.
  const file = looksLikeReference(script)
    ? await (await import("../reference.js")).resolveReferenceScript(script, ctx)
    : locateScript(script);
  // --check: type errors stop the run before any of the script's code runs.
  if (ctx.options.check === true) await (await import("./check.js")).checkBeforeRun(file, ctx.cacheDir);
  const namespace = await importModule(file, ctx.cacheDir);
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
  const program: unknown = exported({ args: [script, ...scriptArgs], lib: makeLib({ dir: dirname(file) }) });
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
