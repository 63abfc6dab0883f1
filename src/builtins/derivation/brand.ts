/**
 * What marks a derivation: a registered symbol on its prototype, so one made by
 * another copy of tsexec is recognised too. A module of its own, with no import,
 * so the public `isDerivation` (src/index.ts) brings neither the Derivation class
 * nor the build store into tsexec's start-up.
 */
export const derivationBrand: unique symbol = Symbol.for("tsexec.derivation");

/** Whether `value` carries the brand (typed as a guard by value.ts's `isDerivation`). */
export function hasDerivationBrand(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as any)[derivationBrand] === true;
}
