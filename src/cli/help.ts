/** `tsexec --help`, rendered by yargs from the option table; loaded only for --help. */
import { dynamicImport } from "../base/dynamic-import.js";
import { optionSpecs } from "./options.js";
import { commands, type CommandSpec } from "./commands/index.js";

/** What `tsexec NAME --help` prints under the subcommand's usage line (kept here: only --help loads this file). */
const commandHelp: Record<string, string> = {
  show: "Lists the scripts and apps a reference, a local directory (., ./dir) or a file offers,\nand the inputs they declare, without running them.",
  lock: "Resolves the inputs the scripts declare that tsexec.lock does not pin yet, and writes the lock\nbeside them; entries no script declares any more are removed.",
  update: "Re-resolves the script's inputs (all, or the INPUTs named) against their remotes and\nrewrites their tsexec.lock entries.",
  registry: "Edits the user's registry of names for references: tsexec NAME#APP then runs the app of\nthe reference NAME stands for.",
  check:
    "Type-checks scripts (default: the current directory's project or .ts files) with tsexec's types\n" +
    "and the loader's options; a tsconfig.json beside them is honoured. npm: packages without types get\n" +
    "their @types package when the registry has one (pinned in tsexec.lock, saying so), else type any.\n" +
    "--frozen (before or after check) changes no tsexec.lock; --offline asks no registry.\n" +
    "Exit 1 on any type error, 0 (silent) otherwise.",
  init: "Creates a script project in DIR (default: .): package.json, tsconfig.json, an executable main.ts,\n.gitignore and node_modules links to this tsexec for editors; never overwrites a file.",
};

/** `tsexec NAME --help`: the subcommand's usage line and what it does. */
export function commandHelpText(command: CommandSpec): string {
  return `Usage: ${command.usage}\n\n${commandHelp[command.name] ?? ""}\n`;
}

export async function helpText(): Promise<string> {
  const { default: yargs } = await dynamicImport<typeof import("yargs")>("yargs");
  // cliui trims the lines of a yargs usage text, so the header (indented) is written as it is.
  const header = [
    "Usage: tsexec [OPTIONS] SCRIPT [ARGS...]",
    "       tsexec [OPTIONS] -- SCRIPT [ARGS...]",
    "       tsexec [OPTIONS] REF#APP | NAME[#APP] [ARGS...]",
    ...commands.map((command) => `       ${command.usage}`),
    "",
    "Runs SCRIPT, a module whose default export is a function of { args, lib }",
    "returning an IO value. SCRIPT is a .ts/.mts/.cts/.js/.mjs/.cjs file or a",
    "directory holding default.ts or index.ts. Options are read only before",
    "SCRIPT; everything after it is passed to the script as args.",
    "",
    "SCRIPT may also be a git reference, fetched into the cache and run from a",
    "read-only checkout: git+https://host/repo.git?rev=<commit>#path/to/script.ts,",
    "git+http://, git+ssh://, git+file:///path?ref=<branch-or-tag>#…, or",
    "github:<owner>/<repo>[/<rev-or-ref>]#<path>; ?dir=<sub> makes paths relative",
    "to a subdirectory; without #<path> the script is default.ts (then index.ts).",
    "A reference without a full commit hash prints the commit it resolved to;",
    "branches and tags are re-resolved at most hourly (now with --refresh).",
    "",
    "tsexec show REFERENCE|PATH lists the scripts a reference, a local directory",
    "(., ./dir) or a file offers, without running them; paths and names are told",
    "apart as for running. (A script file named 'show' runs as: tsexec ./show)",
    "",
    "A #fragment without '/' or extension names an app: the file package.json",
    "'bin' maps it to (also ./dir#app, .#app). A bin that is a plain Node program",
    "(not a tsexec script) runs as node runs it, its locked dependencies installed",
    "in the store. tsexec npm:NAME[@RANGE][#BIN] runs a published package's bin",
    "(as npx does). A reference may start with a",
    "registry name (tsexec registry add tools github:acme/tools; tsexec tools#app).",
    "A script's `export const inputs = { … }` are fetched before it runs and",
    "pinned in tsexec.lock beside it (tsexec lock, tsexec update). See docs/flakes.md.",
    "",
    "tsexec check [SCRIPT...] type-checks scripts with tsexec's types and the",
    "loader's options (a tsconfig.json beside them is honoured); exit 1 on any",
    "type error. tsexec init [DIR] creates a script project (package.json,",
    "tsconfig.json, an executable main.ts, .gitignore), never overwriting a file;",
    "with --template REF[#NAME] it copies a template of a reference instead",
    "(package.json \"tsexec\": { \"templates\" }, or templates/NAME/).",
    "",
    "tsexec profile install REF#APP [--as NAME] pins an app at today's commit and",
    "puts a launcher in the profile's bin (tsexec profile path, for PATH); list,",
    "upgrade [NAME], remove NAME, rollback and history manage its generations.",
    "tsexec shell REF#APP... [-c CMD ARGS...] runs CMD (default $SHELL) with those",
    "apps first on PATH. tsexec build SCRIPT|REF[#NAME] builds the derivation a",
    "script's default export yields, prints its path and links ./result to it.",
    "tsexec gc [--dry-run] [--max-age 30d] removes the cache entries nothing needs:",
    "roots are profiles, result links, running processes' locks and recent use.",
  ].join("\n");
  let parser = yargs([])
    .scriptName("tsexec")
    .version(false)
    .help(false)
    .wrap(Math.min(100, process.stdout.columns || 80));
  for (const spec of optionSpecs) {
    parser = parser.option(spec.name, {
      alias: spec.alias,
      describe: spec.describe + (spec.env ? ` (also $${spec.env}=1)` : ""),
      type: spec.takesValue ? "string" : "boolean",
      requiresArg: Boolean(spec.takesValue),
    });
  }
  return `${header}\n\n${await parser.getHelp()}\n`;
}
