/**
 * `lib.build`, `lib.toFile`, `lib.runCommand`, `lib.derivation`: the front of
 * the build store. Finding a built output is synchronous (one `lstat`), so
 * `lib.build` of a built derivation works inside `unsafePerformIO`; only a
 * real build is an asynchronous step.
 */
import { asyncStep, primitive, unit, type IO, type PrimitiveContext } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { isDerivation, outputPath, type Derivation } from "./derivation.js";
import { activeOtherStore } from "./value.js";
import { isBuilt, realise } from "./store.js";

export { derivation, runCommand, toFile, isDerivation, Derivation } from "./derivation.js";
export type { DerivationInput, DerivationSpec } from "./derivation.js";

/** `lib.build(drv)`: builds `drv` (and its inputs) unless built; yields its output path. */
export function build(drv: Derivation): IO<string> {
  if (!isDerivation(drv)) {
    throw new TypeError(`lib.build expects a derivation (from lib.toFile, lib.runCommand or lib.derivation), got ${describeValue(drv)}`);
  }
  return primitive(`build ${drv.storeName}`, (ctx) => outputOf(drv, ctx));
}

/**
 * `drv`'s output path: at once (synchronously) if it is built, else after an
 * asynchronous build step, which `unsafePerformIO` refuses by its name. What
 * dlopen and reexec do before they use a derivation.
 */
export function outputOf(drv: Derivation, ctx: PrimitiveContext): IO<string> {
  const other = activeOtherStore();
  if (other !== undefined) return other.outputOf(drv, ctx);
  const out = outputPath(drv, ctx.cacheDir);
  return isBuilt(out) ? unit(out) : asyncStep(`building ${drv.storeName}`, () => realise(drv, ctx));
}
