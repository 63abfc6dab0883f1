/**
 * `tsexec gc [--dry-run] [--max-age AGE]`: removes what nothing in the cache
 * needs (src/inputs/gc/collect.ts; docs/gc.md): store outputs, git checkouts
 * and repositories, npm packages and trees, transpiled scripts.
 */
import { TsexecError } from "../../base/errors.js";
import { printable } from "../../base/printable.js";
import { collectGarbage } from "../../inputs/gc/collect.js";
import { profileDir, readGenerations } from "../../inputs/profile/generations.js";
import { UsageError } from "../options.js";
import type { CommandRun } from "./command.js";

const usage = "tsexec gc [--dry-run] [--max-age AGE] (AGE: 30d, 12h, 90m, 0)";
const dayMs = 24 * 60 * 60 * 1000;

export const run: CommandRun = async ({ args, ctx }) => {
  let dryRun = false;
  let maxAgeMs = 30 * dayMs;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--dry-run" || arg === "-n") dryRun = true;
    else if (arg === "--max-age" || arg.startsWith("--max-age=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i];
      if (value === undefined) throw new UsageError(`--max-age needs an age: ${usage}`);
      maxAgeMs = parseAge(value);
    } else throw new UsageError(`gc does not take '${printable(arg)}': ${usage}`);
  }
  const profileRoots = readGenerations(profileDir()).flatMap((g) => g.apps.flatMap((a) => a.roots));
  const result = collectGarbage({ cacheDir: ctx.cacheDir, maxAgeMs, dryRun, profileRoots });
  const out: string[] = [];
  for (const { entry, bytes } of result.removed) out.push(`${dryRun ? "would remove" : "removed"} ${entry.kind} ${printable(entry.path)} (${formatBytes(bytes)})`);
  const busy = result.busy > 0 ? `; ${result.busy} unused but in use by a running tsexec (locked), kept` : "";
  out.push(
    `${dryRun ? "would free" : "freed"} ${formatBytes(result.bytes)}${result.bytes >= 1024 ? ` (${result.bytes} bytes)` : ""} in ${result.removed.length} ${result.removed.length === 1 ? "entry" : "entries"}; kept ${result.kept}${busy}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
};

/** `30d`, `12h`, `90m`, `45s`, or a number of days. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!m) throw new TsexecError(`--max-age '${printable(text)}' is not an age: write a number with s, m, h or d (30d, 12h, 0)`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: dayMs, "": dayMs }[m[2] as "s" | "m" | "h" | "d" | ""];
  return Number(m[1]) * unit;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
