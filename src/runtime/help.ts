/** `tsexec --help`, rendered by yargs from the option table; loaded only for --help. */
import { optionSpecs } from "./options.js";

export async function helpText(): Promise<string> {
  const { default: yargs } = await import("yargs");
  let parser = yargs([])
    .scriptName("tsexec")
    .usage(
      [
        "Usage: tsexec [OPTIONS] SCRIPT [ARGS...]",
        "       tsexec [OPTIONS] -- SCRIPT [ARGS...]",
        "",
        "Runs SCRIPT, a module whose default export is a function of { args, lib }",
        "returning an IO value. SCRIPT is a .ts/.mts/.cts/.js/.mjs/.cjs file or a",
        "directory holding default.ts or index.ts. Options are read only before",
        "SCRIPT; everything after it is passed to the script as args.",
      ].join("\n"),
    )
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
  return (await parser.getHelp()) + "\n";
}
