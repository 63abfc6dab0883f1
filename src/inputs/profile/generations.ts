/**
 * Profiles (`tsexec profile`, Nix's `nix profile`): apps installed pinned,
 * with generations.
 *
 *     <profile>/generations/<n>/generation.json   { number, createdAt, note, apps: [...] }
 *     <profile>/generations/<n>/bin/<name>        one launcher per app
 *     <profile>/current -> generations/<n>        switched with one rename
 *     <profile>/bin -> current/bin                the directory for PATH
 *
 * A generation is never changed once written (made in a temporary directory,
 * renamed into place); install, upgrade and remove write a new one and switch
 * `current` to it; rollback switches back. What every generation's apps need
 * stays a root of `tsexec gc` (docs/gc.md).
 */
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, symlinkSync, chmodSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { makeDirectory, removeTree, uniqueSuffix } from "../../base/files.js";
import { printable } from "../../base/printable.js";

export interface ProfileApp {
  /** The launcher's name. */
  readonly name: string;
  /** The reference as the user typed it (re-resolved by upgrade). */
  readonly reference: string;
  /** The same reference at the commit it resolved to. */
  readonly pinned: string;
  readonly commit: string;
  readonly installedAt: string;
  /** The cache directory the app was installed into. */
  readonly cacheDir: string;
  /** The script the launcher runs (in a read-only checkout). */
  readonly script: string;
  /** Cache paths the app needs (its checkout, transpiled script, inputs): roots of tsexec gc. */
  readonly roots: readonly string[];
}

export interface Generation {
  readonly number: number;
  readonly createdAt: string;
  /** What changed, for `profile history`. */
  readonly note: string;
  readonly apps: readonly ProfileApp[];
}

/** `$TSEXEC_PROFILE_DIR`, else `$XDG_DATA_HOME/tsexec/profile`, else `~/.local/share/tsexec/profile`. */
export function profileDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSEXEC_PROFILE_DIR) return env.TSEXEC_PROFILE_DIR;
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), ".local", "share");
  return join(data, "tsexec", "profile");
}

export const binDir = (profile: string): string => join(profile, "bin");
const generationsDir = (profile: string): string => join(profile, "generations");

/** Every generation, oldest first; a directory that is not a readable generation is skipped. */
export function readGenerations(profile: string): Generation[] {
  let names: string[];
  try {
    names = readdirSync(generationsDir(profile));
  } catch {
    return [];
  }
  const out: Generation[] = [];
  for (const name of names) {
    if (!/^[1-9]\d{0,8}$/.test(name)) continue;
    const generation = readGeneration(join(generationsDir(profile), name), Number(name));
    if (generation !== undefined) out.push(generation);
  }
  return out.sort((a, b) => a.number - b.number);
}

function readGeneration(dir: string, number: number): Generation | undefined {
  try {
    const stat = lstatSync(join(dir, "generation.json"));
    if (!stat.isFile() || stat.size > 4 << 20) return undefined;
    const value = JSON.parse(readFileSync(join(dir, "generation.json"), "utf8")) as Generation;
    if (value.number !== number || !Array.isArray(value.apps) || !value.apps.every(isApp)) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

function isApp(value: unknown): value is ProfileApp {
  const a = value as Record<string, unknown> | null;
  return (
    typeof a === "object" && a !== null &&
    ["name", "reference", "pinned", "commit", "installedAt", "cacheDir", "script"].every((k) => typeof a[k] === "string") &&
    Array.isArray(a.roots) && a.roots.every((r) => typeof r === "string") &&
    // The name becomes a file in bin/: a crafted generation.json must not name a path.
    /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/.test(a.name as string)
  );
}

/** The number `current` points at, if any. */
export function currentNumber(profile: string): number | undefined {
  try {
    const m = /^generations\/([1-9]\d*)$/.exec(readlinkSync(join(profile, "current")));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function currentGeneration(profile: string): Generation | undefined {
  const n = currentNumber(profile);
  return n === undefined ? undefined : readGenerations(profile).find((g) => g.number === n);
}

/**
 * Writes the next generation (its launchers made by `launcher`) and makes it
 * current. Killed at any point, the profile is the old one or the new one.
 */
export function addGeneration(profile: string, apps: readonly ProfileApp[], note: string, launcher: (app: ProfileApp) => string): Generation {
  const dir = generationsDir(profile);
  try {
    makeDirectory(dir);
  } catch (error) {
    throw new TsexecError(`cannot create the profile directory ${printable(dir)} (${(error as NodeJS.ErrnoException).code}): make it writable, or set $TSEXEC_PROFILE_DIR`);
  }
  const number = Math.max(0, ...readGenerations(profile).map((g) => g.number), ...existingNumbers(dir)) + 1;
  const generation: Generation = { number, createdAt: new Date().toISOString(), note, apps: [...apps].sort((a, b) => (a.name < b.name ? -1 : 1)) };
  const temp = join(dir, `.tmp-${uniqueSuffix()}`);
  try {
    mkdirSync(join(temp, "bin"), { recursive: true });
    for (const app of generation.apps) {
      writeFileSync(join(temp, "bin", app.name), launcher(app));
      chmodSync(join(temp, "bin", app.name), 0o755);
    }
    writeFileSync(join(temp, "generation.json"), `${JSON.stringify(generation, null, 2)}\n`);
    renameSync(temp, join(dir, String(number)));
  } catch (error) {
    removeTree(temp);
    throw error;
  }
  switchTo(profile, number);
  return generation;
}

/** Numbers taken by directories, readable or not: a new generation never reuses one. */
function existingNumbers(dir: string): number[] {
  try {
    return readdirSync(dir).filter((n) => /^[1-9]\d{0,8}$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

/** Points `current` at generation `number` with one rename, and makes sure `bin` follows `current`. */
export function switchTo(profile: string, number: number): void {
  replaceLink(join(profile, "current"), `generations/${number}`);
  const bin = binDir(profile);
  let binTarget: string | undefined;
  try {
    binTarget = readlinkSync(bin);
  } catch {
    binTarget = undefined;
  }
  if (binTarget !== "current/bin") replaceLink(bin, "current/bin");
}

function replaceLink(path: string, target: string): void {
  const temp = `${path}.${uniqueSuffix()}.tmp`;
  symlinkSync(target, temp);
  try {
    renameSync(temp, path);
  } catch (error) {
    removeTree(temp);
    const code = (error as NodeJS.ErrnoException).code;
    throw new TsexecError(`cannot switch ${printable(path)} (${code}): ${code === "EISDIR" ? "it is a directory, not tsexec's link: move it away" : "make the profile directory writable"}`);
  }
}
