/**
 * Apps (issue 18): targets that name a package.json `bin` (`<ref>#app`,
 * `./dir#app`, `.#app`, registry names, `npm:name#bin`), and bins that are
 * plain Node programs rather than tsexec scripts, run as node runs them.
 * Loaded only for such targets: `tsexec hello.ts` never reaches it.
 */
import { join } from "node:path";
import type { PrimitiveContext } from "../../../monad/io.js";
import { signalEverything } from "../../../base/children.js";
import { releaseStopSignals } from "../../../base/shutdown.js";
import { locateScript } from "../../../runtime/loader/index.js";
import { appEntry, appKind, type AppEntry } from "../../../inputs/apps.js";
import type { AppSource } from "../../../inputs/app-view.js";
import type { ResolvedReference } from "../../../inputs/reference.js";
import { unknownTargetError, type Target } from "../target.js";

/** An app found through a package.json `bin`: its entry, the package's directory, where its files come from. */
export interface LocatedApp {
  readonly entry: AppEntry;
  readonly root: string;
  readonly source: AppSource;
}

/** The file a target that is no plain script path names and, when a `bin` named it, the app (run.ts's locateAny). */
export async function locateApp(script: string, target: Target, ctx: PrimitiveContext): Promise<{ file: string; app?: LocatedApp }> {
  switch (target.kind) {
    case "reference": {
      const { checkoutReference, parseReference } = await import("../../../inputs/reference.js");
      return referenceApp(await checkoutReference(parseReference(script), ctx));
    }
    case "npm": {
      const { locatePublishedPackage, publishedApp } = await import("../../../inputs/npm-app.js");
      const pkg = await locatePublishedPackage(script, ctx);
      const entry = publishedApp(pkg);
      return { file: entry.file, app: { entry, root: pkg.packageDir, source: { kind: "installed" } } };
    }
    case "script":
    case "missing":
      // A plain script path (`hello.ts`) costs what it always did: one stat in locateScript.
      return { file: locateScript(target.path) };
    case "local": {
      const { path: dir, fragment } = target;
      if (target.is === "file") return { file: locateScript(dir) };
      const entry = appEntry(dir, dir, fragment, `'${dir}'`);
      if (entry !== undefined) return { file: entry.file, app: { entry, root: dir, source: { kind: "local", dir } } };
      return { file: locateScript(fragment === undefined ? dir : join(dir, fragment)) };
    }
    case "registry":
      return runRegistryReference(script, ctx);
  }
}

async function referenceApp(resolved: ResolvedReference): Promise<{ file: string; app?: LocatedApp }> {
  const { referenceTarget } = await import("../../../inputs/reference.js");
  const { file, app } = referenceTarget(resolved);
  if (app === undefined) return { file };
  return { file, app: { entry: app, root: resolved.root, source: { kind: "checkout", checkout: resolved.checkout } } };
}

/** `tools#deploy`, `tools/v3#deploy`: a registry name expanded to its reference. */
async function runRegistryReference(script: string, ctx: PrimitiveContext): Promise<{ file: string; app?: LocatedApp }> {
  const { lookupRegistry } = await import("../../../inputs/registry.js");
  const found = lookupRegistry(script);
  if (found === undefined) throw await unknownTargetError(script, "script");
  const { checkoutReference, parseReference } = await import("../../../inputs/reference.js");
  const reference = { ...parseReference(found.expanded), typed: script, registry: found.expanded };
  return referenceApp(await checkoutReference(reference, ctx));
}

/**
 * Runs a plain Node program as `node <bin>` would from an installed clone: in
 * this process, through Node's own entry point (CommonJS or ES module as Node
 * decides, `require.main` the bin, the shebang ignored), from a directory
 * laid out with its locked node_modules (app-view.ts), with process.argv as
 * npm's `.bin/APP` link gives it. It starts once tsexec's own work is done
 * (on the next turn of the event loop), so its errors, exit code and
 * unhandled rejections are Node's, not tsexec's.
 */
export async function runIfProgram(app: LocatedApp, file: string, args: readonly string[], ctx: PrimitiveContext): Promise<boolean> {
  if (appKind(file) !== "plain program") return false;
  const { programPath } = await import("../../../inputs/app-view.js");
  const main = await programPath(app.entry, app.root, app.source, ctx);
  process.argv = [process.argv[0]!, main, ...args];
  signalsAsUnderNode();
  const { default: Module } = await import("node:module");
  setImmediate(() => (Module as unknown as { runMain(main: string): void }).runMain(main));
  return true;
}

/**
 * Signals as under node: a program that listens for SIGINT (SIGTERM, SIGHUP)
 * gets it and stops on its own terms; one that does not is stopped with its
 * children (SIGTERM to every descendant), then dies of the signal itself, as
 * node would.
 */
function signalsAsUnderNode(): void {
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (process.listenerCount(signal) > 1) return; // the program's own handler runs
    for (const s of signals) process.off(s, onSignal);
    signalEverything("SIGTERM", true);
    process.kill(process.pid, signal);
  };
  releaseStopSignals(); // tsexec's own handling (base/shutdown.ts) would claim the signal first
  for (const signal of signals) process.on(signal, onSignal);
}

