/**
 * The build launcher (native/tsexec-launch.c): a tiny C program through which
 * builders run, so that a builder and its process group die with tsexec even
 * when tsexec is killed with SIGKILL. Compiled with cc into the store on the
 * first build that needs it (Linux only: prctl(PR_SET_PDEATHSIG)); where it
 * cannot be had, builders run without it (SIGINT/SIGTERM still stop them
 * through the runtime's child registry) and --verbose says so once.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PrimitiveContext } from "../../monad/io.js";
import { packageRoot } from "../../base/package.js";
import { runCommand, toFile, type Derivation } from "./derivation.js";

let cached: Derivation | undefined;

/** The derivation that compiles the launcher (its hash follows the C source). */
export function launcherDerivation(): Derivation {
  return (cached ??= runCommand(
    "tsexec-launch",
    { source: toFile("tsexec-launch.c", readFileSync(join(packageRoot, "native", "tsexec-launch.c"), "utf8")) },
    'cc -O2 -o "$out" "$source"',
  ));
}

/** True for the launcher's own derivations (built without a launcher). */
export function isLauncherDerivation(drv: Derivation): boolean {
  const launcher = launcherDerivation();
  return drv === launcher || launcher.inputs.includes(drv);
}

/** Launcher paths by cache directory (undefined: none can be had there). */
const paths = new Map<string, Promise<string | undefined>>();

/** The launcher's path in `ctx`'s store, built on first need; undefined where there is none. */
export function launcherPath(ctx: PrimitiveContext, build: (drv: Derivation) => Promise<string>): Promise<string | undefined> {
  if (process.platform !== "linux") return Promise.resolve(undefined);
  let path = paths.get(ctx.cacheDir);
  if (path === undefined) {
    path = build(launcherDerivation()).catch((error: Error) => {
      if (ctx.verbose) ctx.log(`builders run without the launcher that stops them if tsexec is killed: ${error.message.split("\n")[0]}`);
      return undefined;
    });
    paths.set(ctx.cacheDir, path);
  }
  return path;
}

/** The synchronous form, for tsexec's own tiny builds that must not leave a synchronous step. */
export function launcherPathSync(build: (drv: Derivation) => string): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    return build(launcherDerivation());
  } catch {
    return undefined;
  }
}
