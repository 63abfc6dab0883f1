/**
 * tsexec's command-line options. One table serves both the fast parser below
 * (the common path: no yargs loaded) and `--help`, which yargs renders.
 *
 * Options are read only before SCRIPT: from SCRIPT on, everything is the
 * script's (`tsexec s.ts --help` passes `--help` to the script). `--` ends the
 * options, so `tsexec -- -odd-name.ts` runs a script whose name starts with `-`.
 */
import { TsexecError } from "../base/errors.js";

export interface OptionSpec {
  readonly name: string;
  readonly alias?: string;
  readonly takesValue?: string;
  readonly describe: string;
  /** An environment variable that turns the flag on (`1`/`true`). */
  readonly env?: string;
}

export const optionSpecs: readonly OptionSpec[] = [
  { name: "help", alias: "h", describe: "Show this help and exit" },
  { name: "version", describe: "Show tsexec's and Node's versions and exit" },
  { name: "verbose", alias: "v", describe: "Log each primitive as it runs, to stderr" },
  { name: "check", describe: "Type-check the script (as tsexec check does) before running it" },
  { name: "show-trace", describe: "On error, show where the failing IO steps were built" },
  { name: "cache-dir", takesValue: "DIR", describe: "Cache directory (default $TSEXEC_CACHE_DIR, $XDG_CACHE_HOME/tsexec or ~/.cache/tsexec)" },
  { name: "offline", env: "TSEXEC_OFFLINE", describe: "Answer fetches from the cache only; never touch the network" },
  { name: "pinned-only", env: "TSEXEC_PINNED_ONLY", describe: "Refuse git references not pinned to a full commit hash, and package.json files without a lock" },
  { name: "frozen", env: "TSEXEC_FROZEN", describe: "Refuse to run unless tsexec.lock pins every input and npm: specifier as declared (never write the lock)" },
  { name: "refresh", describe: "Re-resolve the branches and tags of git references now" },
  { name: "allow-scripts", takesValue: "NAMES", describe: "Run the install scripts of these npm packages (comma-separated names)" },
  { name: "build-timeout", takesValue: "SECONDS", describe: "Kill any derivation build running longer than SECONDS with its process group (exit 101)" },
  {
    name: "store",
    takesValue: "STORE",
    describe: "Where derivations build: 'tsexec' (its own store, the default) or 'nix' (the installed Nix; also $TSEXEC_STORE)",
  },
  {
    name: "kill-grace",
    takesValue: "SECONDS",
    describe: "When interrupted, how long children have between SIGTERM and SIGKILL (default 3, or $TSEXEC_KILL_GRACE)",
  },
];

/** Flags by option name (`show-trace`), and values for options that take one. */
export type Flags = Readonly<Record<string, string | true>>;

export interface ParsedCommandLine {
  readonly flags: Flags;
  /** The script as typed, if any. */
  readonly script: string | undefined;
  /** Everything after the script, untouched. */
  readonly scriptArgs: readonly string[];
}

export class UsageError extends TsexecError {}

export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedCommandLine {
  const flags: Record<string, string | true> = {};
  for (const spec of optionSpecs) {
    if (spec.env && isTrue(env[spec.env])) flags[spec.name] = true;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") return { flags, script: argv[i + 1], scriptArgs: argv.slice(i + 2) };
    if (!arg.startsWith("-") || arg === "-") return { flags, script: arg, scriptArgs: argv.slice(i + 1) };
    const eq = arg.indexOf("=");
    const key = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : arg.slice(1);
    const spec = optionSpecs.find((s) => (arg.startsWith("--") ? s.name === key : s.alias === key));
    if (!spec) throw new UsageError(`unknown option '${arg}'`);
    if (spec.takesValue) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "") throw new UsageError(`option '--${spec.name}' needs a value (${spec.takesValue})`);
      flags[spec.name] = value;
    } else {
      if (eq >= 0) throw new UsageError(`option '--${spec.name}' takes no value`);
      flags[spec.name] = true;
    }
  }
  return { flags, script: undefined, scriptArgs: [] };
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}
