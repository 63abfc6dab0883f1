/**
 * What every subcommand module (`src/cli/commands/<name>.ts`) offers the
 * CLI: one `run` function. Subcommands are loaded only when named, so a plain
 * script run never pays for them.
 */
import type { PrimitiveContext } from "../../monad/io.js";
import type { Flags } from "../options.js";

export interface CommandInput {
  /** The words after the subcommand's name. */
  readonly args: readonly string[];
  readonly flags: Flags;
  /** The runtime context for these flags (made once, also the ambient one). */
  readonly ctx: PrimitiveContext;
}

/** A subcommand: resolves to the exit code; throws TsexecError/UsageError for the CLI to report. */
export type CommandRun = (input: CommandInput) => Promise<number>;
