/**
 * The warm path of declared inputs: what the last run of a script received,
 * remembered in the cache, valid while the script's declaration (from the
 * transpile manifest) and its tsexec.lock (inode, mtime, size: the lock is
 * replaced by rename when rewritten) are unchanged and every checkout is
 * still there. A hit costs a stat of the lock, one small read and a stat per
 * input: none of the lock parsing, reference parsing and fetchgit lookups of
 * locked-inputs.ts, which is then not even initialised.
 *
 * It holds only inputs that were all locked (and hash-verified) when
 * remembered, so a hit satisfies --frozen and --offline as the full path would.
 *
 *     <cache>/inputs/<key of the script path>.json
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import type { Input, InputsDeclaration } from "../runtime/loader/inputs-declaration.js";
import { FetchedInput } from "./fetched-input.js";
import { lockPath } from "../base/lock-path.js";
import { printable } from "../base/printable.js";
import { markUsed } from "../base/last-use.js";
import { pathKey, writeCacheFile } from "../runtime/loader/cache.js";

interface RememberedInput {
  readonly path: string;
  readonly rev: string;
  readonly ref?: string;
  readonly url: string;
  readonly hash: string;
}

interface Memo {
  readonly script: string;
  /** The lock's [inode, mtimeMs, size]. */
  readonly lock: readonly [number, number, number];
  /** JSON of the declaration it was made for. */
  readonly declaration: string;
  readonly inputs: Readonly<Record<string, RememberedInput>>;
}

function memoFile(cacheDir: string, script: string): string {
  return join(cacheDir, "inputs", `${pathKey(script)}.json`);
}

function lockStamp(script: string): [number, number, number] | undefined {
  try {
    const stat = statSync(lockPath(dirname(script)));
    return [stat.ino, stat.mtimeMs, stat.size];
  } catch {
    return undefined;
  }
}

/** The inputs the last run received, if nothing they depend on changed; else undefined. */
export function recallInputs(script: string, declaration: InputsDeclaration, cacheDir: string): Readonly<Record<string, Input>> | undefined {
  let memo: Memo;
  try {
    memo = JSON.parse(readFileSync(memoFile(cacheDir, script), "utf8")) as Memo;
  } catch {
    return undefined;
  }
  const stamp = lockStamp(script);
  if (memo.script !== script || stamp === undefined || !Array.isArray(memo.lock) || memo.lock.some((v, i) => v !== stamp[i])) return undefined;
  if (memo.declaration !== JSON.stringify(declaration)) return undefined;
  const out: Record<string, Input> = {};
  const checkouts = join(cacheDir, "git") + sep;
  for (const name of Object.keys(declaration)) {
    const input = memo.inputs?.[name];
    if (input === undefined) return undefined;
    // A cache file may be damaged or crafted: an input is a checkout of fetchgit's cache, never another directory.
    if (!isRememberedInput(input) || !input.path.startsWith(checkouts) || input.path.split(sep).includes("..")) {
      process.stderr.write(`tsexec: warning: the cache file ${printable(memoFile(cacheDir, script))} is damaged (input '${printable(name)}'): ignored; resolving the inputs from tsexec.lock\n`);
      return undefined;
    }
    if (!isDirectory(input.path)) return undefined;
    out[name] = new FetchedInput(input.path, input.rev, input.ref, input.url, input.hash);
  }
  markUsed(memoFile(cacheDir, script)); // the last-use mark tsexec gc reads: the memo names the inputs' checkouts
  return Object.freeze(out);
}

function isRememberedInput(value: unknown): value is RememberedInput {
  const input = value as Partial<RememberedInput> | null;
  return (
    typeof input === "object" &&
    input !== null &&
    typeof input.path === "string" &&
    typeof input.url === "string" &&
    (input.ref === undefined || typeof input.ref === "string") &&
    typeof input.rev === "string" &&
    /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(input.rev) &&
    typeof input.hash === "string" &&
    /^sha256-[A-Za-z0-9+/]{43}=$/.test(input.hash)
  );
}

/** Remembers what a run received (best effort: a cache that cannot be written only costs the next run time). */
export function rememberInputs(script: string, declaration: InputsDeclaration, cacheDir: string, inputs: Readonly<Record<string, Input>>): void {
  const stamp = lockStamp(script);
  if (stamp === undefined) return;
  const remembered: Record<string, RememberedInput> = {};
  for (const [name, input] of Object.entries(inputs)) {
    remembered[name] = { path: input.path, rev: input.rev, ...(input.ref === undefined ? {} : { ref: input.ref }), url: input.url, hash: input.hash };
  }
  const memo: Memo = { script, lock: stamp, declaration: JSON.stringify(declaration), inputs: remembered };
  try {
    writeCacheFile(memoFile(cacheDir, script), JSON.stringify(memo));
  } catch {
    // Not remembered: the next run takes the full path.
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
