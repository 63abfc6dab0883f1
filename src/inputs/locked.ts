/**
 * Fetching a script's declared inputs through tsexec.lock (docs/flakes.md,
 * docs/lock.md). Loaded only for scripts that declare inputs.
 *
 * - An input with a lock entry that still matches its declaration is fetched
 *   at the locked commit with the locked content hash: a pinned fetch, so a
 *   cached checkout costs a stat and its metadata, no git, no network.
 * - A missing (or changed) entry is resolved against the remote and recorded;
 *   the lock is written when its directory is writable (one line says so),
 *   else each such input warns as an unpinned reference does.
 * - `--frozen` refuses to resolve anything: every input must be locked, and
 *   the lock must match the declaration.
 * Inputs are fetched in parallel; the lock is written only when all succeeded.
 */
import { realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize, sep } from "node:path";
import type { PrimitiveContext } from "../monad/io.js";
import { fetchgitPath, makeRequest, type FetchRequest, type FetchResult } from "../builtins/fetchgit/index.js";
import { readMetadata } from "../builtins/fetchgit/cache.js";
import { contentHash } from "../builtins/fetchgit/hash.js";
import { asFileUrl } from "../builtins/fetchgit/url.js";
import { readSourceText } from "../base/bounded-read.js";
import { TsexecError } from "../base/errors.js";
import { isReadOnlyDirectory, lockPath, lockVersion, readLock, updateLock, type InputLockEntry, type LockFile } from "../base/lockfile.js";
import { readInputsDeclaration, type DeclaredInput, type Input, type InputsDeclaration } from "../runtime/loader/inputs-declaration.js";
import { FetchedInput } from "./fetched-input.js";
import { printable } from "../base/printable.js";
import { rememberInputs } from "./memo.js";
import { parseReference } from "./reference.js";
import { expandRegistryName, mayBeRegistryReference } from "./registry.js";

/** What a declaration asks for, with references and registry names expanded. */
export interface InputTarget {
  readonly name: string;
  /** The declaration's reference string, or the object form's url (recorded as the entry's `source`). */
  readonly source: string;
  /** The repository URL, canonical (fetchgit's normalizeUrl). */
  readonly url: string;
  /**
   * The URL its lock entry records: a relative local path as written (resolved
   * against the lock's directory, so a project moves and clones with its lock),
   * else `url`.
   */
  readonly lockedUrl: string;
  readonly ref: string | undefined;
  readonly rev: string | undefined;
  readonly submodules: boolean;
  /** Subdirectory of the checkout the input's path is. */
  readonly dir: string;
  /** The reference a registry name expanded to. */
  readonly registry: string | undefined;
  /** `input 'tools' of deploy.ts (/dir/deploy.ts:3)`, for messages. */
  readonly label: string;
}

/** The script's section name in its directory's lock. */
export function lockKey(file: string): string {
  return basename(file);
}

export function inputTarget(name: string, declared: DeclaredInput, file: string, ctx: PrimitiveContext): InputTarget {
  const label = `input '${name}' of ${lockKey(file)} (${file}:${declared.line})`;
  const scriptDir = dirname(file);
  const within = <T>(make: () => T): T => {
    try {
      return make();
    } catch (error) {
      if (error instanceof TsexecError) throw new TsexecError(`${label}: ${error.message}`);
      throw error;
    }
  };
  const spec = declared.spec;
  if (typeof spec === "string") {
    let typed = spec;
    let registry: string | undefined;
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(spec)) {
      if (!mayBeRegistryReference(spec)) {
        throw new TsexecError(`${label}: '${printable(spec)}' is neither a reference (github:…, git+https://…, git+file://…) nor a registry name`);
      }
      registry = expandRegistryName(spec, label).expanded;
      typed = registry;
    }
    const reference = within(() => parseReference(typed));
    if (reference.path !== undefined) {
      throw new TsexecError(`${label}: an input names a repository, not a script: drop '#${printable(reference.path)}' from '${printable(spec)}'`);
    }
    const url = within(() => makeRequest({ url: reference.url, rev: reference.rev ?? reference.ref ?? "HEAD" }, scriptDir, ctx)).url;
    return { name, source: spec, url, lockedUrl: url, ref: reference.ref, rev: reference.rev, submodules: true, dir: reference.dir, registry, label };
  }
  // The object form takes every URL the string form does (git+https://, git+file://, github:); its fields add ref, rev, dir.
  const written = /^(git\+|github:)/i.test(spec.url) ? within(() => parseReference(spec.url)) : undefined;
  if (written?.path !== undefined) {
    throw new TsexecError(`${label}: an input names a repository, not a script: drop '#${printable(written.path)}' from '${printable(spec.url)}'`);
  }
  const field = (key: "ref" | "rev" | "dir"): string | undefined => {
    const inUrl = written?.[key] || undefined;
    if (inUrl !== undefined && spec[key] !== undefined && spec[key] !== inUrl) {
      throw new TsexecError(`${label}: '${printable(spec.url)}' gives ${key} '${printable(inUrl)}' and the ${key} field '${printable(spec[key]!)}': keep one`);
    }
    return spec[key] ?? inUrl;
  };
  const [ref, rev, dir] = [field("ref"), field("rev"), field("dir")];
  if (ref !== undefined && rev !== undefined) {
    throw new TsexecError(`${label}: gives both rev and ref: rev pins a commit, ref follows a branch or tag; keep one`);
  }
  const url = written?.url ?? spec.url;
  const request = within(() => makeRequest({ url, rev: rev ?? ref ?? "HEAD", fetchSubmodules: spec.submodules ?? true }, scriptDir, ctx));
  if (rev !== undefined && !/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(rev)) {
    throw new TsexecError(`${label}: 'rev' must be a full commit hash; use ref: "${printable(rev)}" for a branch or tag`);
  }
  const lockedUrl = isRelativePath(url) ? url : request.url;
  return { name, source: spec.url, url: request.url, lockedUrl, ref, rev, submodules: spec.submodules ?? true, dir: dir ?? "", registry: undefined, label };
}

/** `../repos/data`, `./tools`, `repos/x`: a local path that is not absolute (no scheme, not user@host:path). */
function isRelativePath(url: string): boolean {
  return !isAbsolute(url) && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) && !/^[^/]+@[^/]+:/.test(url);
}

/** Whether a lock entry still pins what the declaration asks for. */
export function entryMatches(entry: InputLockEntry, target: InputTarget): boolean {
  return (
    entry.source === target.source &&
    entry.submodules === target.submodules &&
    entry.ref === target.ref &&
    (target.rev === undefined || entry.rev === target.rev) &&
    // A registry name's URL is the local registry's business; any other source fixes the URL.
    // (A relative path is locked as written; a lock from before that recorded the absolute path.)
    (target.registry !== undefined || entry.url === target.lockedUrl || entry.url === target.url)
  );
}

/**
 * Fetches of one repository run one after another (fetches of different
 * repositories in parallel): two checkouts of one commit assembled at once
 * would race for its directory, and git locks its repository anyway.
 */
const fetchesByRepository = new Map<string, Promise<unknown>>();

function fetchInTurn(request: FetchRequest): Promise<FetchResult> {
  const previous = fetchesByRepository.get(request.url) ?? Promise.resolve();
  const next = previous.then(
    () => fetchgitPath(request),
    () => fetchgitPath(request),
  );
  fetchesByRepository.set(request.url, next.catch(() => undefined));
  return next;
}

/** Fetches the locked commit and checks its content hash (no network when the checkout is cached). */
async function fetchLocked(target: InputTarget, entry: InputLockEntry, file: string, ctx: PrimitiveContext): Promise<Input> {
  const lockFile = lockPath(dirname(file));
  let result;
  let request: FetchRequest;
  try {
    // A relative url in the lock is relative to the lock's directory (the script's).
    request = makeRequest({ url: entry.url, rev: entry.rev, fetchSubmodules: entry.submodules, hash: entry.hash }, dirname(file), ctx);
    result = await fetchInTurn(request);
  } catch (error) {
    if (!(error instanceof TsexecError)) throw error;
    if (/hash mismatch/.test(error.message)) {
      const actual = /got (sha256-[A-Za-z0-9+/=]+)/.exec(error.message)?.[1] ?? "something else";
      throw new TsexecError(
        `${lockFile}: hash mismatch for ${target.label}: ${asFileUrl(entry.url)} at ${entry.rev} hashes to ${actual}, the lock says ${entry.hash}; ` +
          `the repository or the lock was changed: check it, then re-lock with tsexec update ${lockKey(file)} ${target.name}`,
      );
    }
    throw new TsexecError(`${target.label} (locked at ${entry.rev} in ${lockFile}): ${error.message}`);
  }
  return new FetchedInput(inputPath(result.path, target), entry.rev, target.ref, request.url, entry.hash);
}

/** Resolves the declaration against the remote (at most `maxRefAge` old) and makes its lock entry. */
async function resolveInput(target: InputTarget, file: string, ctx: PrimitiveContext, maxRefAge: number): Promise<{ entry: InputLockEntry; input: Input }> {
  let result;
  try {
    const rev = target.rev ?? target.ref ?? "HEAD";
    result = await fetchInTurn(makeRequest({ url: target.url, rev, fetchSubmodules: target.submodules }, dirname(file), ctx, maxRefAge));
  } catch (error) {
    if (error instanceof TsexecError) throw new TsexecError(`${target.label}: ${error.message}`);
    throw error;
  }
  const hash = readMetadata(result.path)?.contentHash ?? contentHash(result.path);
  const entry: InputLockEntry = {
    source: target.source,
    url: target.lockedUrl,
    ...(target.ref === undefined ? {} : { ref: target.ref }),
    submodules: target.submodules,
    rev: result.commit,
    hash,
    lockedAt: new Date().toISOString(),
  };
  return { entry, input: new FetchedInput(inputPath(result.path, target), result.commit, target.ref, target.url, hash) };
}

/** The checkout, or its `dir` subdirectory (which may not lead out of it). */
function inputPath(checkout: string, target: InputTarget): string {
  const normal = normalize(target.dir);
  if (target.dir === "" || normal === ".") return checkout; // `dir: "."` is the checkout itself
  if (isAbsolute(target.dir) || normal === ".." || normal.startsWith(`..${sep}`)) throw new TsexecError(`${target.label}: dir '${printable(target.dir)}' escapes the checkout`);
  const path = join(checkout, normal);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new TsexecError(`${target.label}: the checkout has no directory '${printable(target.dir)}'`);
  }
  const realCheckout = realpathSync(checkout);
  if (real === realCheckout) return real; // `dir: "sub/.."`
  if (!real.startsWith(realCheckout + sep)) throw new TsexecError(`${target.label}: dir '${printable(target.dir)}' escapes the checkout`);
  return real;
}

/** Waits for every promise; throws the first failure in declaration order. */
async function allOrFirstError<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/**
 * The inputs a script receives: each declared input fetched (through the lock),
 * the lock written when something new was resolved.
 */
export async function provideInputs(file: string, declaration: InputsDeclaration, ctx: PrimitiveContext): Promise<Record<string, Input>> {
  const dir = dirname(file);
  const key = lockKey(file);
  const lock = readLock(dir);
  const locked = lock?.inputs?.[key] ?? {};
  const names = Object.keys(declaration);
  const targets = names.map((name) => inputTarget(name, declaration[name]!, file, ctx));
  if (ctx.options.frozen === true) refuseUnlocked(targets, locked, lockPath(dir), key);
  if (ctx.options["pinned-only"] === true && isReadOnlyDirectory(dir)) refuseUnpinned(targets, locked, dir);
  const fresh: Record<string, InputLockEntry> = {};
  const inputs = await allOrFirstError(
    targets.map(async (target) => {
      const entry = locked[target.name];
      if (entry !== undefined && entryMatches(entry, target)) return fetchLocked(target, entry, file, ctx);
      const resolved = await resolveInput(target, file, ctx, 0);
      fresh[target.name] = resolved.entry;
      return resolved.input;
    }),
  );
  const freshNames = names.filter((name) => fresh[name] !== undefined);
  const status = freshNames.length > 0 ? recordFresh(dir, key, locked, fresh, freshNames, targets, ctx) : "unchanged";
  const provided = Object.freeze(Object.fromEntries(names.map((name, i) => [name, inputs[i]!])));
  // Everything is locked now: the next run can take these from the memo (inputs-memo.ts).
  if (status !== "read-only") rememberInputs(file, declaration, ctx.cacheDir, provided);
  return provided;
}

/** --frozen: every input locked as declared, and nothing locked that is no longer declared. */
function refuseUnlocked(targets: readonly InputTarget[], locked: Readonly<Record<string, InputLockEntry>>, file: string, key: string): void {
  const refusing = "refusing to run (--frozen or TSEXEC_FROZEN)";
  for (const target of targets) {
    const entry = locked[target.name];
    if (entry === undefined || !entryMatches(entry, target)) {
      const why = entry === undefined ? "is not in" : "was declared differently when locked in";
      throw new TsexecError(`${refusing}: ${target.label} ${why} ${file}: run tsexec lock ${key}, and commit the lock`);
    }
  }
  const stale = Object.keys(locked).filter((name) => !targets.some((t) => t.name === name));
  if (stale.length > 0) {
    throw new TsexecError(`${refusing}: ${file} locks input${stale.length > 1 ? "s" : ""} ${stale.join(", ")} of ${key}, which it no longer declares: run tsexec lock ${key}`);
  }
}

/** --pinned-only where no lock can be written: an input neither locked nor declared at a full commit would run unpinned. */
function refuseUnpinned(targets: readonly InputTarget[], locked: Readonly<Record<string, InputLockEntry>>, dir: string): void {
  for (const target of targets) {
    const entry = locked[target.name];
    if (target.rev === undefined && (entry === undefined || !entryMatches(entry, target))) {
      throw new TsexecError(
        `refusing unpinned ${target.label} (--pinned-only or TSEXEC_PINNED_ONLY): it is not in a tsexec.lock and ${dir} is read-only; lock it where it can be written, or declare a full commit`,
      );
    }
  }
}

function recordFresh(
  dir: string,
  key: string,
  locked: Readonly<Record<string, InputLockEntry>>,
  fresh: Record<string, InputLockEntry>,
  freshNames: readonly string[],
  targets: readonly InputTarget[],
  ctx: PrimitiveContext,
): "written" | "unchanged" | "read-only" {
  // Under the lock's own lock: what another tsexec wrote meanwhile (another section, an entry of this one) is kept.
  const status = updateLock(dir, (current) => withScriptSection(current, key, { ...locked, ...current?.inputs?.[key], ...fresh }), ctx.log);
  if (status === "read-only") {
    for (const name of freshNames) {
      const target = targets.find((t) => t.name === name)!;
      const via = target.registry === undefined ? "" : ` (registry: ${target.registry})`;
      ctx.log(
        `warning: ${target.label}, '${printable(target.source)}'${via}, is not locked: it resolved to commit ${fresh[name]!.rev}; ` +
          `${dir} is read-only, so no tsexec.lock was written there (lock it in a writable copy: tsexec lock ${key})`,
      );
    }
    return status;
  }
  const list = freshNames.map((name) => `${name} at ${fresh[name]!.rev}`).join(", ");
  ctx.log(`locked ${key}'s input${freshNames.length > 1 ? "s" : ""} ${list}: wrote ${lockPath(dir)}`);
  return status;
}

/** `lock` with the script's section replaced (removed when empty); other sections untouched. */
export function withScriptSection(lock: LockFile | undefined, key: string, entries: Readonly<Record<string, InputLockEntry>>): LockFile {
  const inputs: Record<string, Readonly<Record<string, InputLockEntry>>> = { ...(lock?.inputs ?? {}) };
  if (Object.keys(entries).length > 0) inputs[key] = entries;
  else delete inputs[key];
  const base: LockFile = lock ?? { version: lockVersion };
  const { inputs: _old, ...rest } = base;
  return Object.keys(inputs).length > 0 ? { ...rest, inputs } : rest;
}

// ---- tsexec lock / tsexec update ----

export interface LockChange {
  readonly script: string;
  readonly name: string;
  readonly old: string | undefined;
  readonly new: string | undefined;
}

export interface LockOutcome {
  readonly lockFile: string;
  readonly changes: readonly LockChange[];
  readonly status: "written" | "unchanged" | "read-only";
}

/** The static declaration of a script file (parsed; no transpiling, no running). */
export function declarationOf(file: string): InputsDeclaration {
  return readInputsDeclaration(file, readSourceText(file)) ?? {};
}

/**
 * Re-locks the scripts of one directory. `refresh`: per script, the input
 * names to re-resolve even when locked ("all" for every one), as `update` asks;
 * otherwise only missing or changed entries are resolved. Entries no script of
 * the directory declares any more are removed. Every untouched entry keeps its
 * bytes (the lock is canonical JSON).
 */
export async function relockDirectory(
  dir: string,
  files: readonly string[],
  refresh: ReadonlyMap<string, readonly string[] | "all">,
  ctx: PrimitiveContext,
): Promise<LockOutcome> {
  const lock = readLock(dir);
  const jobs: Promise<LockChange | undefined>[] = [];
  const sections = new Map<string, Record<string, InputLockEntry>>();
  for (const file of files) {
    const key = lockKey(file);
    const declaration = declarationOf(file);
    const locked = lock?.inputs?.[key] ?? {};
    const section: Record<string, InputLockEntry> = {};
    sections.set(key, section);
    const wanted = refresh.get(file);
    for (const name of Object.keys(declaration)) {
      const target = inputTarget(name, declaration[name]!, file, ctx);
      const entry = locked[name];
      const forced = wanted === "all" || (wanted !== undefined && wanted.includes(name));
      if (entry !== undefined && entryMatches(entry, target) && !forced) {
        section[name] = entry;
        continue;
      }
      jobs.push(
        resolveInput(target, file, ctx, 0).then(({ entry: next }) => {
          // An unchanged commit keeps its entry byte for byte (lockedAt included).
          section[name] = entry !== undefined && entry.rev === next.rev && entry.hash === next.hash && entryMatches(entry, target) ? entry : next;
          return { script: key, name, old: entry?.rev, new: next.rev };
        }),
      );
    }
    for (const name of Object.keys(locked)) {
      if (!Object.hasOwn(declaration, name)) jobs.push(Promise.resolve({ script: key, name, old: locked[name]!.rev, new: undefined }));
    }
  }
  const changes = (await allOrFirstError(jobs)).filter((c): c is LockChange => c !== undefined);
  let pruned: LockChange[] = [];
  const status = updateLock(
    dir,
    (current) => {
      const next = relocked(dir, current, sections);
      pruned = next.pruned;
      return next.lock;
    },
    ctx.log,
  );
  return { lockFile: lockPath(dir), changes: [...changes, ...pruned], status };
}

/**
 * The directory's lock as it is now (what another tsexec wrote meanwhile is
 * kept) with the sections re-locked; the sections of scripts not named are
 * dropped when the script is gone, pruned to what it still declares.
 * undefined when there is nothing to write.
 */
function relocked(dir: string, current: LockFile | undefined, sections: ReadonlyMap<string, Readonly<Record<string, InputLockEntry>>>): { lock: LockFile | undefined; pruned: LockChange[] } {
  const pruned: LockChange[] = [];
  let next = current;
  for (const [key, section] of sections) next = withScriptSection(next, key, section);
  for (const [key, locked] of Object.entries(current?.inputs ?? {})) {
    if (sections.has(key)) continue;
    const kept = otherScriptSection(join(dir, key), locked);
    for (const name of Object.keys(locked)) if (!Object.hasOwn(kept, name)) pruned.push({ script: key, name, old: locked[name]!.rev, new: undefined });
    next = withScriptSection(next, key, kept);
  }
  if (current === undefined && next?.inputs === undefined && next?.npm === undefined) return { lock: undefined, pruned };
  return { lock: next, pruned };
}

/** What stays of the section of a script `lock`/`update` was not given: its still-declared inputs. */
function otherScriptSection(file: string, locked: Readonly<Record<string, InputLockEntry>>): Record<string, InputLockEntry> {
  let declaration: InputsDeclaration;
  try {
    if (!statSync(file).isFile()) return {};
    declaration = declarationOf(file);
  } catch (error) {
    // Gone: nothing of it stays. Unreadable or not static: left for a run of that script to report.
    return (error as NodeJS.ErrnoException).code === "ENOENT" || !(error instanceof TsexecError) ? {} : { ...locked };
  }
  return Object.fromEntries(Object.entries(locked).filter(([name]) => Object.hasOwn(declaration, name)));
}
