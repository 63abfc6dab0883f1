/** What the `--store nix` tests share: whether Nix is here, and the environment its commands run with. */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers.js";

/** The installed Nix's version, or undefined when nix-store is not on PATH. */
export const nixVersion: string | undefined = (() => {
  const run = spawnSync("nix-store", ["--version"], { encoding: "utf8" });
  return run.status === 0 ? run.stdout.trim() : undefined;
})();

/**
 * Single-user settings for root without a daemon (what .ci/run sets up): no build
 * users, no sandbox, no default substituters. A NIX_CONFIG already set is kept.
 */
export const nixConfig =
  process.env.NIX_CONFIG ??
  (process.getuid?.() === 0 ? "build-users-group =\nsandbox = false\nsubstituters =\nexperimental-features = nix-command\n" : "experimental-features = nix-command\n");

export const nixEnv: Record<string, string> = { NIX_CONFIG: nixConfig };

export function nix(program: string, args: readonly string[], env: Record<string, string> = {}): string {
  return execFileSync(program, args, { encoding: "utf8", env: { ...process.env, ...nixEnv, ...env }, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 }).trim();
}

/** Evaluates a Nix expression to JSON (paths computed the way nix-instantiate computes them). */
export function nixEval(expression: string): unknown {
  const file = join(tempDir("nix-expr-"), "e.nix");
  writeFileSync(file, expression);
  return JSON.parse(nix("nix-instantiate", ["--eval", "--strict", "--json", "--read-write-mode", file]));
}

/** A directory for PATH holding only `node` (and what `extra` adds): Nix is not on it. */
export function pathWithoutNix(extra: Record<string, string> = {}): string {
  const dir = tempDir("path-");
  symlinkSync(process.execPath, join(dir, "node"));
  for (const [name, script] of Object.entries(extra)) {
    writeFileSync(join(dir, name), script);
    chmodSync(join(dir, name), 0o755);
  }
  mkdirSync(join(dir, "empty"), { recursive: true });
  return dir;
}

/** A Nix string literal. */
export function nixString(text: string): string {
  return `"${text.replace(/[\\"$]/g, (c) => `\\${c}`).replace(/\n/g, "\\n")}"`;
}
