/**
 * `tsexec profile …` (Nix's `nix profile`): apps installed pinned, with
 * generations (src/inputs/profile/generations.ts):
 *
 *     tsexec profile install REF#APP [--as NAME]   pin at today's commit, add a launcher
 *     tsexec profile list                          name, reference, commit, date
 *     tsexec profile upgrade [NAME]                re-resolve and re-pin (all, or NAME)
 *     tsexec profile remove NAME
 *     tsexec profile rollback                      back to the previous generation
 *     tsexec profile history                       every generation, what changed
 *     tsexec profile path                          the bin directory, for PATH
 */
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { printable } from "../../base/printable.js";
import {
  addGeneration,
  binDir,
  currentGeneration,
  currentNumber,
  profileDir,
  readGenerations,
  switchTo,
  type ProfileApp,
} from "../../inputs/profile/generations.js";
import { launcherText, pinApp } from "../../inputs/profile/pin.js";
import { UsageError } from "../options.js";
import { appReference } from "./run/app-target.js";
import type { CommandRun } from "./command.js";

const usage = "profile takes: install REF#APP [--as NAME] | list | upgrade [NAME] | remove NAME | rollback | history | path";

export const run: CommandRun = async ({ args, ctx }) => {
  const [action, ...rest] = args;
  const profile = profileDir();
  const say = (text: string) => void process.stdout.write(`${text}\n`);
  switch (action) {
    case "install":
      return install(profile, rest, ctx, say);
    case "list":
      noMore(rest, "list");
      for (const app of currentGeneration(profile)?.apps ?? []) {
        say(`${app.name}\t${printable(app.reference)}\t${app.commit}\t${app.installedAt.slice(0, 10)}`);
      }
      return 0;
    case "upgrade":
      if (rest.length > 1) throw new UsageError(`profile upgrade takes at most one name (${usage})`);
      return upgrade(profile, rest[0], ctx, say);
    case "remove": {
      if (rest.length !== 1) throw new UsageError(`profile remove takes a name (${usage})`);
      const apps = currentApps(profile);
      const name = rest[0]!;
      if (!apps.some((a) => a.name === name)) throw unknownApp(name, apps);
      const generation = addGeneration(profile, apps.filter((a) => a.name !== name), `remove ${name}`, launcherText);
      say(`removed ${name} (generation ${generation.number})`);
      return 0;
    }
    case "rollback": {
      noMore(rest, "rollback");
      const current = currentNumber(profile);
      const previous = readGenerations(profile).filter((g) => current === undefined || g.number < current).at(-1);
      if (previous === undefined) throw new TsexecError(`the profile ${printable(profile)} has no generation before ${current === undefined ? "none" : current} to roll back to`);
      switchTo(profile, previous.number);
      say(`switched from generation ${current} to ${previous.number}${previous.note ? ` (${previous.note})` : ""}`);
      return 0;
    }
    case "history": {
      noMore(rest, "history");
      const current = currentNumber(profile);
      for (const g of readGenerations(profile)) {
        say(`${g.number === current ? "*" : " "} ${g.number}\t${g.createdAt}\t${g.note}\t${g.apps.map((a) => `${a.name}@${a.commit.slice(0, 12)}`).join(" ") || "(empty)"}`);
      }
      return 0;
    }
    case "path":
      noMore(rest, "path");
      say(binDir(profile));
      return 0;
    default:
      throw new UsageError(action === undefined ? usage : `unknown profile action '${printable(action)}': ${usage}`);
  }
};

function noMore(rest: readonly string[], action: string): void {
  if (rest.length !== 0) throw new UsageError(`profile ${action} takes nothing more (${usage})`);
}

const currentApps = (profile: string): readonly ProfileApp[] => currentGeneration(profile)?.apps ?? [];

function unknownApp(name: string, apps: readonly ProfileApp[]): TsexecError {
  return new TsexecError(`the profile has no app '${printable(name)}' (${apps.length ? `it has ${apps.map((a) => a.name).join(", ")}` : "it is empty"}): see tsexec profile list`);
}

async function install(profile: string, rest: readonly string[], ctx: PrimitiveContext, say: (text: string) => void): Promise<number> {
  let as: string | undefined;
  const refs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === "--as" || arg.startsWith("--as=")) {
      as = arg.includes("=") ? arg.slice(5) : rest[++i];
      if (!as) throw new UsageError(`--as needs a name (${usage})`);
    } else if (arg.startsWith("-")) throw new UsageError(`profile install does not take '${printable(arg)}' (${usage})`);
    else refs.push(arg);
  }
  if (refs.length !== 1) throw new UsageError(`profile install takes one reference (${usage})`);
  const app = await pinApp(await appReference(refs[0]!, ctx, "profile install"), ctx, as);
  const others = currentApps(profile).filter((a) => a.name !== app.name);
  const replaced = others.length !== currentApps(profile).length;
  const generation = addGeneration(profile, [...others, app], `install ${app.name}`, launcherText);
  say(`${replaced ? "replaced" : "installed"} ${app.name}: ${printable(app.reference)} at ${app.commit} (generation ${generation.number}); run it as ${binDir(profile)}/${app.name}`);
  return 0;
}

async function upgrade(profile: string, name: string | undefined, ctx: PrimitiveContext, say: (text: string) => void): Promise<number> {
  const apps = currentApps(profile);
  if (name !== undefined && !apps.some((a) => a.name === name)) throw unknownApp(name, apps);
  const next: ProfileApp[] = [];
  const moved: string[] = [];
  for (const app of apps) {
    if (name !== undefined && app.name !== name) {
      next.push(app);
      continue;
    }
    // Re-resolved now, whatever the hourly memory of the ref says.
    const fresh = await pinApp(await typedReference(app, ctx), { ...ctx, options: { ...ctx.options, refresh: true } }, app.name);
    next.push(fresh.commit === app.commit ? app : fresh);
    say(fresh.commit === app.commit ? `${app.name}: ${app.commit} is current` : `${app.name}: ${app.commit} → ${fresh.commit}`);
    if (fresh.commit !== app.commit) moved.push(app.name);
  }
  if (moved.length === 0) return 0;
  const generation = addGeneration(profile, next, `upgrade ${moved.join(" ")}`, launcherText);
  say(`generation ${generation.number}`);
  return 0;
}

/** The reference as installed; a registry name is looked up again (its entry may have moved). */
function typedReference(app: ProfileApp, ctx: PrimitiveContext) {
  return appReference(app.reference, ctx, `profile upgrade ${app.name}`);
}
