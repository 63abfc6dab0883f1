/**
 * What marks a derivation: a registered symbol on its prototype, so one made by
 * another copy of tsexec is recognised too. A module of its own, so the public
 * `isDerivation` does not bring the build store into tsexec's start-up.
 */
import type { Derivation } from "./derivation.js";

export const derivationBrand: unique symbol = Symbol.for("tsexec.derivation");

/** A value made by lib.toFile, lib.runCommand or lib.derivation. */
export function isDerivation(value: unknown): value is Derivation {
  return typeof value === "object" && value !== null && (value as any)[derivationBrand] === true;
}
