/**
 * Derivations: pure descriptions of a build (nix's derivations, much smaller).
 * A derivation is data; nothing runs until `lib.build` (or `lib.dlopen`) builds it.
 *
 * Its output lives at `<cache-dir>/store/<hash>-<name>`. The hash covers
 * everything that defines the build (kind, name, builder, args, env, text and
 * the inputs' hashes) and nothing about where the cache directory is: a
 * derivation's output path interpolated into a string is stored in the recipe
 * with the store directory replaced by a token, and the token is replaced by
 * the real store directory only when the build runs.
 */
import { describeValue } from "../../monad/describe.js";
import { sha256Hex } from "../../base/sha256.js";
import { ambientContext } from "../../base/context.js";
import { Derivation, outputPath, storeDir, isDerivation, activeOtherStore, type Recipe } from "./value.js";

export { Derivation, outputPath, storeDir, isDerivation, type Recipe };

/** Stands for the store directory inside recipes (NUL cannot occur in paths, args or env values). */
export const storeToken = "\u0000tsexec-store\u0000";

/** What a derivation's env and args may hold: text, or another derivation (its output path). */
export type DerivationInput = string | Derivation;

export interface DerivationSpec {
  /** The output's name: letters, digits and `+-._?=`, not starting with a dot. */
  readonly name: string;
  /** The program to run: a path, a name looked up on `$PATH`, or a derivation. */
  readonly builder: DerivationInput;
  readonly args?: readonly DerivationInput[];
  readonly env?: Readonly<Record<string, DerivationInput>>;
  /** Seconds of wall time the build may take (nix's `timeout`); past it the build is killed and tsexec exits 101. */
  readonly timeout?: number;
  /** Seconds the builder may go without printing (nix's `maxSilentTime`); past it, as for `timeout`. */
  readonly maxSilentTime?: number;
}

/** The time limits a derivation sets, in seconds (part of its hash when set, as in nix). */
export interface TimeLimits {
  readonly timeout?: number;
  readonly maxSilentTime?: number;
}

/** Derivations made in this process, by hash: how an interpolated output path is traced back to its derivation. */
const known = new Map<string, Derivation>();

/** Every derivation this process made, in the order made (another store looks them all up at once). */
export function knownDerivations(): IterableIterator<Derivation> {
  return known.values();
}

/** Derivations made by lib.runCommand: another store writes what runCommand adds (sh, its PATH, headers) its own way. */
const byRunCommand = new WeakSet<Derivation>();

export function isRunCommand(drv: Derivation): boolean {
  return byRunCommand.has(drv);
}

/** Replaces the store token with a real store directory. */
export function renderForStore(text: string, store: string): string {
  return text.includes(storeToken) ? text.split(storeToken).join(store) : text;
}

const namePattern = /^[A-Za-z0-9+_?=-][A-Za-z0-9+._?=-]*$/;

function checkName(where: string, name: unknown): string {
  if (typeof name !== "string" || !namePattern.test(name) || name.length > 200) {
    throw new TypeError(
      `${where}: the name must be a non-empty string of letters, digits and +-._?= not starting with a dot, got ${describeValue(name)}`,
    );
  }
  return name;
}

/**
 * Turns a string or derivation into recipe text: every output path of a
 * derivation this process knows becomes `storeToken/<hash>-<name>`, and that
 * derivation becomes an input.
 */
class RecipeWriter {
  readonly inputs = new Map<string, Derivation>();
  /** Matches output paths; made when a value first has a slash in it (most recipes have none). */
  private pathPattern: RegExp | undefined;

  constructor(private readonly where: string) {}

  text(value: unknown, what: string): string {
    if (isDerivation(value)) {
      this.inputs.set(value.hash, value);
      return `${storeToken}/${value.storeName}`;
    }
    if (typeof value !== "string") {
      throw new TypeError(`${this.where}: ${what} must be a string or a derivation, got ${describeValue(value)}`);
    }
    if (value.includes("\u0000")) throw new TypeError(`${this.where}: ${what} contains a NUL character`);
    if (!value.includes("/")) return value; // no path in it, so no output path either
    const other = activeOtherStore();
    let text: string = value;
    if (other !== undefined) {
      text = other.replaceOutputPaths(text, (drv) => {
        this.inputs.set(drv.hash, drv);
        return `${storeToken}/${drv.storeName}`;
      });
    }
    this.pathPattern ??= storePathPattern(storeDir(ambientContext().cacheDir));
    return text.replace(this.pathPattern, (whole: string, hash: string, name: string) => {
      const drv = known.get(hash);
      // A store path of a derivation this process did not make stays plain text.
      if (drv === undefined || !name.startsWith(drv.name)) return whole;
      this.inputs.set(hash, drv);
      return `${storeToken}/${drv.storeName}${name.slice(drv.name.length)}`;
    });
  }
}

function makeDerivation(name: string, recipe: Recipe, inputs: Map<string, Derivation>): Derivation {
  const inputHashes = [...inputs.keys()].sort();
  // Plain-JS SHA-256 (the same digest node:crypto gives): loading node:crypto costs
  // milliseconds of OpenSSL initialisation, hashing a recipe here microseconds, and a
  // script that finds its derivations built should pay only the latter.
  const hash = sha256Hex(JSON.stringify({ format: "tsexec-derivation-1", name, recipe, inputs: inputHashes })).slice(0, 32);
  const existing = known.get(hash);
  if (existing) return existing;
  const drv = new Derivation(name, hash, recipe, inputHashes.map((h) => inputs.get(h)!));
  known.set(hash, drv);
  return drv;
}

/** `lib.derivation({ name, builder, args, env })`: run `builder args` with `env` and `$out`; the output is what it writes at `$out`. */
export function derivation(spec: DerivationSpec): Derivation {
  return commandDerivation("lib.derivation", spec);
}

function commandDerivation(where: string, spec: DerivationSpec): Derivation {
  if (typeof spec !== "object" || spec === null) {
    throw new TypeError(`${where} expects an object { name, builder, args, env }, got ${describeValue(spec)}`);
  }
  const name = checkName(where, spec.name);
  const writer = new RecipeWriter(`${where} (${name})`);
  const builder = writer.text(spec.builder, "the builder");
  if (builder === "") throw new TypeError(`${where} (${name}): the builder must not be empty`);
  const args = spec.args ?? [];
  if (!Array.isArray(args)) throw new TypeError(`${where} (${name}): args must be an array, got ${describeValue(args)}`);
  const env = spec.env ?? {};
  if (typeof env !== "object" || env === null || Array.isArray(env)) {
    throw new TypeError(`${where} (${name}): env must be an object of strings, got ${describeValue(env)}`);
  }
  const envEntries = Object.keys(env)
    .sort()
    .map((key) => {
      if (key === "" || key.includes("=") || key.includes("\u0000")) throw new TypeError(`${where} (${name}): invalid env name '${key}'`);
      if (key === "out") throw new TypeError(`${where} (${name}): env cannot set 'out': tsexec sets it to the output path`);
      return [key, writer.text(env[key], `env.${key}`)] as const;
    });
  const recipe: Recipe = {
    kind: "command",
    builder,
    args: args.map((arg, i) => writer.text(arg, `args[${i}]`)),
    env: envEntries,
    // Only when set, so derivations without limits keep the hashes they had.
    ...limit(where, name, "timeout", spec.timeout),
    ...limit(where, name, "maxSilentTime", spec.maxSilentTime),
  };
  return makeDerivation(name, recipe, writer.inputs);
}

function limit(where: string, name: string, key: keyof TimeLimits, value: unknown): TimeLimits {
  if (value === undefined) return {};
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`${where} (${name}): ${key} must be a number of seconds greater than 0, got ${describeValue(value)}`);
  }
  return { [key]: value };
}

/** `lib.toFile(name, text)`: a derivation whose output is a file holding `text` (nix's builtins.toFile). */
export function toFile(name: string, text: DerivationInput): Derivation {
  const where = "lib.toFile";
  checkName(where, name);
  const writer = new RecipeWriter(`${where} (${name})`);
  return makeDerivation(name, { kind: "file", text: writer.text(text, "the text") }, writer.inputs);
}

/** What `lib.runCommand`'s env may hold: env values, and the time limits as numbers (as nixpkgs' runCommand takes them). */
export interface RunCommandEnv extends TimeLimits {
  readonly [variable: string]: DerivationInput | number | undefined;
}

/**
 * `lib.runCommand(name, env, script)`: runs `script` with `sh -e` in an empty
 * temporary directory with `$out` set (nixpkgs' runCommand). `timeout` and
 * `maxSilentTime` in `env`, as numbers, are the build's time limits.
 */
export function runCommand(name: string, env: RunCommandEnv, script: DerivationInput): Derivation {
  if (typeof script !== "string" && !isDerivation(script)) {
    throw new TypeError(`lib.runCommand (${String(name)}): the script must be a string, got ${describeValue(script)}`);
  }
  let vars = env as Record<string, DerivationInput>;
  let limits: TimeLimits = {};
  // As in nix, these two names are the build's limits (checked as numbers), never environment variables.
  if (typeof env === "object" && env !== null && ("timeout" in env || "maxSilentTime" in env)) {
    const { timeout, maxSilentTime, ...rest } = env as Record<string, unknown>;
    vars = rest as Record<string, DerivationInput>;
    limits = { timeout, maxSilentTime } as TimeLimits;
  }
  const drv = commandDerivation("lib.runCommand", { name, builder: "sh", args: ["-e", "-c", script], env: vars, ...limits });
  byRunCommand.add(drv);
  return drv;
}

let patternFor: { store: string; pattern: RegExp } | undefined;

/** Matches output paths in `store` (compiled once per store: a script makes many derivations). */
function storePathPattern(store: string): RegExp {
  if (patternFor?.store !== store) patternFor = { store, pattern: new RegExp(`${escapeRegExp(store)}/([0-9a-f]{32})-([A-Za-z0-9+._?=-]+)`, "g") };
  return patternFor.pattern;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
