/**
 * A derivation as a value: its class and where its output lives. A module of
 * its own (no hashing, no build store): the constructors that hash a recipe
 * (derivation.ts) import it, not the other way round.
 */
import { join } from "node:path";
import { ambientContext } from "../../base/context.js";
import { derivationBrand, hasDerivationBrand } from "./brand.js";
import type { IO, PrimitiveContext } from "../../monad/io.js";

/**
 * Another store that outputs live in instead of tsexec's own (`--store nix`:
 * ./nix/index.ts installs it). Kept behind this interface so nothing of it
 * loads unless it is chosen.
 */
export interface OtherStore {
  /** The output path of `drv` in that store (what `${drv}` stands for). */
  outPath(drv: Derivation): string;
  /** Replaces the output paths of known derivations in `text` with what `found(drv, rest)` gives. */
  replaceOutputPaths(text: string, found: (drv: Derivation) => string): string;
  /** `drv`'s output path: at once if it is there, else after building it. */
  outputOf(drv: Derivation, ctx: PrimitiveContext): IO<string>;
}

let otherStore: OtherStore | undefined;

/** The store chosen instead of tsexec's own, if any. */
export function activeOtherStore(): OtherStore | undefined {
  return otherStore;
}

export function useOtherStore(store: OtherStore | undefined): void {
  otherStore = store;
}


/** A value made by lib.toFile, lib.runCommand or lib.derivation. */
export function isDerivation(value: unknown): value is Derivation {
  return hasDerivationBrand(value);
}

export type Recipe =
  | { readonly kind: "file"; readonly text: string }
  | {
      readonly kind: "command";
      readonly builder: string;
      readonly args: readonly string[];
      readonly env: readonly (readonly [string, string])[];
      readonly timeout?: number;
      readonly maxSilentTime?: number;
    };

export class Derivation {
  declare readonly [derivationBrand]: true;
  /** `<hash>-<name>`: the output's file name in the store. */
  readonly storeName: string;

  constructor(
    readonly name: string,
    readonly hash: string,
    /** The build, with input output paths written as `storeToken/<hash>-<name>`. */
    readonly recipe: Recipe,
    /** Derivations whose outputs this one uses; built first. */
    readonly inputs: readonly Derivation[],
  ) {
    this.storeName = `${hash}-${name}`;
  }

  /** The output path in the running program's store (what `${drv}` stands for). */
  get outPath(): string {
    return otherStore !== undefined ? otherStore.outPath(this) : outputPath(this, ambientContext().cacheDir);
  }

  toString(): string {
    return this.outPath;
  }

  toJSON(): string {
    return this.outPath;
  }
}
Object.defineProperty(Derivation.prototype, derivationBrand, { value: true });

let lastStore: { readonly cacheDir: string; readonly store: string } | undefined;

/**
 * `<cacheDir>/store`, remembered for the last cache directory: a script asks
 * for it with every derivation it makes and looks up, and `join` normalises
 * character by character (~10 µs in a fresh process's interpreter).
 */
export function storeDir(cacheDir: string): string {
  if (lastStore?.cacheDir !== cacheDir) lastStore = { cacheDir, store: join(cacheDir, "store") };
  return lastStore.store;
}

export function outputPath(drv: Derivation, cacheDir: string): string {
  // What `join` would give: the store directory is normalised, and a store name is one plain segment.
  return `${storeDir(cacheDir)}/${drv.storeName}`;
}
