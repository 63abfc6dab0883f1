/**
 * The subcommand table, as git and cargo keep one: each subcommand lives in
 * its own file and is imported only when the command line names it.
 *
 * `tsexec <name> …` is the subcommand unless a file of that name exists in the
 * current directory (`tsexec ./name` is always the file), so adding a
 * subcommand never breaks a script someone already runs by name.
 */
import { existsSync } from "node:fs";
import type { CommandRun } from "./command.js";
import { looksLikeReference } from "./target.js";

export interface CommandSpec {
  readonly name: string;
  /** One line for `--help`. */
  readonly usage: string;
  /** Whether `tsexec <name> <args…>` means this subcommand. */
  readonly claims?: (args: readonly string[]) => boolean;
  readonly load: () => Promise<CommandRun>;
}

export const commands: readonly CommandSpec[] = [
  {
    name: "show",
    usage: "tsexec [OPTIONS] show REFERENCE | PATH",
    // `show <reference>` even beside a file named show; `show` alone is that file when there is one.
    // Without such a file, `show <registry name>` is the command too.
    claims: (args) => (args.length > 0 && looksLikeReference(args[0]!)) || !existsSync("show"),
    load: async () => (await import("./show.js")).run,
  },
  { name: "lock", usage: "tsexec [OPTIONS] lock SCRIPT…", load: async () => (await import("./lock.js")).run },
  { name: "update", usage: "tsexec [OPTIONS] update SCRIPT [INPUT…]", load: async () => (await import("./update.js")).run },
  { name: "registry", usage: "tsexec registry add NAME REFERENCE | remove NAME | list | pin NAME", load: async () => (await import("./registry.js")).run },
  {
    name: "check",
    usage: "tsexec [OPTIONS] check [SCRIPT...]",
    // `check s.ts` even beside a file named check, when s.ts exists; `check` alone is that file when there is one.
    claims: (args) => !existsSync("check") || (args.length > 0 && existsSync(args[0]!)),
    load: async () => (await import("./check.js")).run,
  },
  { name: "gc", usage: "tsexec [OPTIONS] gc [--dry-run] [--max-age AGE]", load: async () => (await import("./gc.js")).run },
  {
    name: "profile",
    usage: "tsexec [OPTIONS] profile install REF#APP [--as NAME] | list | upgrade [NAME] | remove NAME | rollback | history | path",
    load: async () => (await import("./profile.js")).run,
  },
  { name: "shell", usage: "tsexec [OPTIONS] shell REF#APP… [-c CMD ARGS…]", load: async () => (await import("./shell.js")).run },
  { name: "build", usage: "tsexec [OPTIONS] build SCRIPT|REF[#NAME] [--out-link PATH | --no-link]", load: async () => (await import("./build.js")).run },
  {
    name: "init",
    usage: "tsexec [OPTIONS] init [DIR] [--template REF[#NAME]]",
    load: async () => (await import("./init.js")).run,
  },
];

/** The subcommand `script` names, given the words after it; undefined for a script. */
export function findCommand(script: string, args: readonly string[]): CommandSpec | undefined {
  const spec = commands.find((c) => c.name === script);
  if (spec === undefined) return undefined;
  return (spec.claims ?? (() => !existsSync(script)))(args) ? spec : undefined;
}
