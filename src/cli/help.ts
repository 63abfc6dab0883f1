/** `tsexec --help`, rendered by yargs from the option table; loaded only for --help. */
import { dynamicImport } from "../base/dynamic-import.js";
import { optionSpecs } from "./options.js";
import { commands } from "./commands/index.js";

export async function helpText(): Promise<string> {
  const { default: yargs } = await dynamicImport<typeof import("yargs")>("yargs");
  // cliui trims the lines of a yargs usage text, so the header (indented) is written as it is.
  const header = [
    "Usage: tsexec [OPTIONS] SCRIPT [ARGS...]",
    "       tsexec [OPTIONS] -- SCRIPT [ARGS...]",
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
    "A #fragment without '/' or extension names an app: the script package.json",
    "'bin' maps it to (also ./dir#app, .#app). A reference may start with a",
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
