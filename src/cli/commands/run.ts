/**
 * Running a script (the default command): locate it (a path or a git
 * reference), import it, call its default export with `{ args, lib }`, run
 * the IO value it returns to the end.
 */
import { dirname } from "node:path";
import { isIO, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { TsexecError } from "../../base/errors.js";
import { Interruption, start, type Fiber } from "../../runtime/interpreter.js";
import { anythingLeft, childrenStarted, killGrace, setKillGrace, stopEverything } from "../../base/children.js";
import { onInterrupt, signalExitCodes, stopSignal, type StopSignal } from "../../base/shutdown.js";
import { makeLib } from "../lib.js";
import { defaultExport, importScript, locateScript } from "../../runtime/loader/index.js";
import type { LocatedApp } from "./run/app.js";
import type { Input } from "../../runtime/loader/inputs-declaration.js";
import { recallInputs } from "../../inputs/memo.js";
import { classifyTarget } from "./target.js";

const noInputs: Readonly<Record<string, Input>> = Object.freeze({});

export async function runScript(script: string, scriptArgs: readonly string[], ctx: PrimitiveContext): Promise<void> {
  // `REF#NAME` where NAME is neither an app nor a path may select a package of REF's default script.
  const target = await locateTarget(script, ctx).then(
    (located) => ({ ...located, selector: undefined }),
    async (error: unknown) => ({ ...(await (await import("./run/package.js")).locatePackage(script, ctx, locateAny, error)), app: undefined }),
  );
  // A bin that is a plain Node program runs as node would run it (issue 18); tsexec scripts as before.
  if (target.app !== undefined && (await (await import("./run/app.js")).runIfProgram(target.app, target.file, scriptArgs, ctx))) return;
  const { file, selector } = target;
  // --check: type errors stop the run before any of the script's code runs.
  if (ctx.options.check === true) await (await import("./check.js")).checkBeforeRun(file, ctx.cacheDir);
  const { namespace, inputs: declaration } = await importScript(file, ctx.cacheDir);
  if (!("default" in namespace)) {
    throw new TsexecError(`${script} does not export a function (it has no default export): add \`export default ({ args, lib }) => ...\``);
  }
  const exported = defaultExport(namespace);
  if (typeof exported !== "function" || selector !== undefined) {
    const packages = await import("./run/package.js");
    if (packages.isPackageSet(exported)) {
      process.exitCode = await packages.runPackage(script, exported, selector, scriptArgs, file, ctx);
      return;
    }
    if (selector !== undefined) await locateAny(script, ctx); // the error the fragment gave
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
        (await (await import("../../inputs/locked.js")).provideInputs(file, declaration, ctx)));
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
  setKillGrace(killGraceMs(ctx));
  await runToTheEnd(program, ctx);
}

/** --kill-grace SECONDS, else $TSEXEC_KILL_GRACE, else 3 s. */
function killGraceMs(ctx: PrimitiveContext): number {
  const given = ctx.options["kill-grace"] ?? process.env.TSEXEC_KILL_GRACE;
  if (given === undefined || given === "") return 3000;
  const seconds = Number(given);
  if (typeof given !== "string" || !/^\d+(\.\d+)?$/.test(given.trim()) || !Number.isFinite(seconds)) {
    throw new TsexecError(`--kill-grace (or $TSEXEC_KILL_GRACE) must be a number of seconds, such as 3 or 0.5; got '${String(given)}'`);
  }
  return Math.round(seconds * 1000);
}

/**
 * SIGINT, SIGTERM and SIGHUP interrupt the program (src/base/shutdown.ts has
 * already stopped every child: registered ones with their process groups, and
 * any other survivor found in /proc); the program unwinds through its
 * finalizers.
 */
function interruptOnSignals(ctx: PrimitiveContext): { readonly received: () => boolean; attach(fiber: Fiber): void; dispose(): void } {
  let received: StopSignal | undefined;
  let program: Fiber | undefined;
  const interrupt = (fiber: Fiber, signal: StopSignal): void => fiber.interrupt(new Interruption(`interrupted by ${signal}`, signalExitCodes[signal]));
  const dispose = onInterrupt((signal) => {
    received = signal;
    if (ctx.verbose) ctx.log(`${signal}: interrupting the program`);
    if (program !== undefined) interrupt(program, signal);
  });
  return {
    received: () => received !== undefined,
    attach: (fiber) => {
      program = fiber;
      if (received !== undefined) interrupt(fiber, received);
    },
    dispose,
  };
}

/**
 * Whatever the program leaves running when it ends (a child a library started
 * and never waited for) is stopped and waited for, so nothing outlives the run.
 */
async function stopLeftovers(afterSignal: boolean): Promise<void> {
  // /proc is read only when a child may be left (a signal, a child started, or a child process
  // handle still open): a run that started nothing pays nothing.
  const everyDescendant = afterSignal || childrenStarted() || process.getActiveResourcesInfo().includes("ProcessWrap");
  if (!anythingLeft(everyDescendant)) return;
  stopEverything(everyDescendant);
  // Bounded: a process stuck in the kernel (state D) outlives even SIGKILL for a while.
  const giveUp = Date.now() + killGrace() + 2000;
  while (anythingLeft(everyDescendant) && Date.now() < giveUp) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * The file a script argument names (target.ts says which kind, by the rule
 * show shares): a git reference (fetched, or found in the cache; args[0]
 * stays as typed), a local path, a local directory's app (`./tools#deploy`,
 * `.#deploy`), or a registry name (`tools#deploy`).
 */
export async function locateAny(script: string, ctx: PrimitiveContext): Promise<string> {
  return (await locateTarget(script, ctx)).file;
}

/** The file a target names and, when a `bin` named it, the app; anything but a plain script path is run-app.ts's (kept out of the warm start). */
async function locateTarget(script: string, ctx: PrimitiveContext): Promise<{ file: string; app?: LocatedApp }> {
  const target = await classifyTarget(script, ctx, "running");
  // A plain script path (`hello.ts`) costs what it always did: one stat in locateScript.
  if (target.kind === "script" || target.kind === "missing") return { file: locateScript(target.path) };
  return (await import("./run/app.js")).locateApp(script, target, ctx);
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
  let ended: (fiber: Fiber) => void = () => {};
  const outcome = new Promise<unknown>((resolve, reject) => {
    ended = (fiber) => (fiber.failed ? reject(fiber.value) : resolve(fiber.value));
  });
  // Stopped before it started (while the script was fetched or imported): it never starts.
  const early = stopSignal();
  if (early !== undefined) throw new Interruption(`interrupted by ${early}`, signalExitCodes[early]);
  // Listening before the program starts: a signal that comes as its first child starts is heard.
  const signals = interruptOnSignals(ctx);
  const fiber = start(program, ctx, (f) => ended(f), (step) => (waitingOn = step));
  if (fiber.done) ended(fiber);
  signals.attach(fiber);
  try {
    await Promise.race([outcome, new Promise<never>((_, reject) => (stuck = reject))]);
  } finally {
    process.off("beforeExit", onEmptyLoop);
    await stopLeftovers(signals.received());
    signals.dispose();
  }
}
