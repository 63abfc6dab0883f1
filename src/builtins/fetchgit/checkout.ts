/**
 * The slow path of fetchgit: fetch what the cache lacks and assemble the
 * checkout. Loaded only when the cache misses, with simple-git.
 *
 * Under the repository's lock: resolve a moving rev (one `git fetch --depth 1
 * <url> <rev>`), or fetch a pinned commit by hash (falling back to fetching
 * all refs when the server refuses), verify the commit, `git archive` it
 * (export-ignore / export-subst honoured) into a temporary directory, add
 * submodules (each through the same cache), check the content hash, make the
 * tree read-only and rename it into place.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { makeReadOnly, removeTree, uniqueSuffix, writeFileAtomic } from "../../base/files.js";
import {
  acquireLock,
  checkoutName,
  findCheckout,
  makeCacheDirectory,
  makeTempCheckout,
  readResolutions,
  recordResolution,
  removeStaleTemporaries,
  repositoryPaths,
  type RepositoryPaths,
} from "./cache.js";
import { Git, classifyGitError, gitError } from "./git.js";
import { contentHash } from "./hash.js";
import { progressBar } from "./progress.js";
import { ConfinedTree, UnsafeEntryError } from "./confined.js";
import { extractTar } from "./tar.js";
import { isFullHash, normalizeUrl, printable, resolveSubmoduleUrl } from "./url.js";
import { lookupCached, offlineError, verifyHash, type FetchRequest, type FetchResult } from "./request.js";

/** More packs than this in a cache repository are consolidated (git's default gc.autoPackLimit). */
export const packLimit = 50;

/** Fetches of this process still running, by everything that decides their result: concurrent callers share one. */
const inFlight = new Map<string, Promise<FetchResult>>();

export async function fetchCheckout(request: FetchRequest): Promise<FetchResult> {
  const chain = request.parents ?? [];
  const self = `${request.url} at ${request.rev}`;
  if (chain.includes(self)) {
    const cycle = [...chain.slice(chain.indexOf(self)), self].join(" -> ");
    throw new TsexecError(`fetchgit: submodules form a cycle: ${cycle}; a commit cannot contain itself, fix the .gitmodules of one of them`);
  }
  // A submodule fetch never joins another caller's fetch: that caller may be waiting for this one's parent (a cycle across fibers).
  if (chain.length > 0) return fetchOnce(request);
  const key = JSON.stringify([request.cacheDir, request.url, request.rev, request.fetchSubmodules, request.hash, request.offline, request.maxRefAge]);
  const running = inFlight.get(key);
  if (running) return running;
  const fetching = fetchOnce(request).finally(() => inFlight.delete(key));
  inFlight.set(key, fetching);
  return fetching;
}

/**
 * One fetch. Git runs only under the repository's lock (in this process and
 * across processes); submodules are fetched after it is released, each under
 * its own lock, so no process ever holds one repository's lock while waiting
 * for another's (no deadlock, whatever includes whatever). The final rename
 * (or finding the checkout already there) makes concurrent assemblies of one
 * commit agree.
 */
async function fetchOnce(request: FetchRequest): Promise<FetchResult> {
  const paths = repositoryPaths(request.cacheDir, request.url);
  const pinned = isFullHash(request.rev);
  const extracted = await withRepositoryLock(paths, request, async () => {
    const bar = progressBar(`${request.url} ${request.rev}`);
    try {
      removeStaleTemporaries(paths);
      const fresh = ensureBareRepository(paths, request);
      const git = new Git(paths.bare, {
        timeoutMs: request.timeoutMs,
        verbose: request.verbose,
        log: request.log,
        onProgress: bar ? (event) => bar.update(event) : undefined,
      });
      const session = new Session(git, paths, request, fresh);
      const commit = await session.resolve();
      const done = findCheckout(paths, commit, request.fetchSubmodules);
      const result = done ? ({ commit, done } as const) : ({ commit, done: undefined, ...(await session.extract(commit)) } as const);
      await session.tidyPacks();
      return result;
    } finally {
      bar?.done();
    }
  });
  if (extracted.done !== undefined) return { path: verifyHash(extracted.done, request), commit: extracted.commit, pinned };
  const path = await finish(paths, request, extracted.commit, extracted.tree, extracted.submodules);
  return { path: verifyHash(path, request), commit: extracted.commit, pinned };
}

/** A submodule's checkout: from the cache if it has it, else fetched as any other (under its own lock). */
function fetchSubmodule(request: FetchRequest): Promise<FetchResult> {
  const cached = lookupCached(request);
  return cached === undefined ? fetchCheckout(request) : Promise.resolve(cached);
}

/** Adds submodules (each fetched under its own lock), checks the hash, makes the tree read-only and renames it into place. */
async function finish(paths: RepositoryPaths, request: FetchRequest, commit: string, tree: ConfinedTree, submodules: readonly Submodule[]): Promise<string> {
  const temp = tree.root;
  try {
    if (submodules.length > 0) {
      const parents = [...(request.parents ?? []), `${request.url} at ${commit}`];
      for (const sub of submodules) {
        const fetched = await fetchSubmodule({ ...request, url: sub.url, rev: sub.commit, hash: undefined, fetchSubmodules: true, parents });
        try {
          tree.copyIn(sub.path, fetched.path);
        } catch (error) {
          throw error instanceof UnsafeEntryError ? unsafeEntry(request, commit, error) : error;
        }
      }
    }
    if (request.hash !== undefined) {
      const actual = contentHash(temp);
      if (actual !== request.hash) {
        throw new TsexecError(`fetchgit: hash mismatch for ${request.url} at ${commit}: expected ${request.hash}, got ${actual}; nothing was cached`);
      }
    }
    const final = join(paths.checkouts, checkoutName(commit, request.fetchSubmodules));
    if (request.hash !== undefined) writeFileAtomic(`${final}.json`, JSON.stringify({ commit, contentHash: request.hash }));
    makeReadOnly(temp);
    try {
      renameSync(temp, final);
    } catch (error) {
      // Another process (or fiber) finished the same commit first: theirs is the same content.
      if (findCheckout(paths, commit, request.fetchSubmodules) === undefined) throw error;
      removeTree(temp);
    }
    return final;
  } catch (error) {
    removeTree(temp);
    throw error;
  }
}

/** The one error for a tree that tries to write outside its checkout. */
function unsafeEntry(request: FetchRequest, commit: string, error: UnsafeEntryError): TsexecError {
  return new TsexecError(
    `fetchgit: refusing commit ${commit} of ${request.url}: its ${error.message}, which could write outside the checkout (a crafted tree); nothing was written or cached, do not use this commit`,
  );
}

/** Holders of each repository lock in this process, in order: a fiber waits for the one before it. */
const repositoryQueues = new Map<string, Promise<void>>();

/** Runs `body` holding the repository's lock: first among this process's fibers, then across processes (lock/). */
async function withRepositoryLock<T>(paths: RepositoryPaths, request: FetchRequest, body: () => Promise<T>): Promise<T> {
  const before = repositoryQueues.get(paths.lock) ?? Promise.resolve();
  let leave!: () => void;
  const turn = new Promise<void>((resolve) => (leave = resolve));
  const tail = before.then(() => turn);
  repositoryQueues.set(paths.lock, tail);
  await before;
  try {
    const release = await acquireLock(paths, request.url, { report: request.log });
    try {
      return await body();
    } finally {
      release();
    }
  } finally {
    leave();
    if (repositoryQueues.get(paths.lock) === tail) repositoryQueues.delete(paths.lock);
  }
}

interface Submodule {
  readonly path: string;
  readonly url: string;
  readonly commit: string;
}

/** Creates the bare repository (in a temporary directory, renamed into place); true if it was just made. */
function ensureBareRepository(paths: RepositoryPaths, request: FetchRequest): boolean {
  if (existsSync(join(paths.bare, "HEAD"))) return false;
  makeCacheDirectory(paths.root);
  writeFileAtomic(join(paths.root, "url"), `${request.url}\n`);
  const temp = `${paths.bare}.tmp-${uniqueSuffix()}`;
  // The minimal layout `git init --bare` makes, written directly: one process less on a cold fetch.
  for (const dir of ["objects/info", "objects/pack", "refs/heads", "refs/tags", "info"]) mkdirSync(join(temp, dir), { recursive: true });
  writeFileSync(join(temp, "HEAD"), "ref: refs/heads/main\n");
  writeFileSync(join(temp, "config"), "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n");
  rmSync(paths.bare, { recursive: true, force: true });
  renameSync(temp, paths.bare);
  return true;
}

class Session {
  constructor(
    private readonly git: Git,
    private readonly paths: RepositoryPaths,
    private readonly request: FetchRequest,
    private readonly fresh: boolean,
  ) {}

  private fail(error: unknown, rev: string = this.request.rev): never {
    throw gitError(error, this.request.url, rev, this.request.timeoutMs);
  }

  /** The full commit `rev` names in the local repository, or undefined. */
  private async localCommit(rev: string): Promise<string | undefined> {
    try {
      return (await this.git.run(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async hasCommit(commit: string): Promise<boolean> {
    return !this.fresh && (await this.localCommit(commit)) === commit;
  }

  /**
   * Fetches `rev` from the remote into a ref of its own and returns the
   * commit it names (tags peeled), or undefined if it names no commit. Never
   * FETCH_HEAD: that file is shared by every fetch into the repository, so a
   * concurrent fetch could swap what this one reads.
   */
  private async fetchRev(rev: string, lastCommit?: string): Promise<string | undefined> {
    const ref = `refs/tsexec/${uniqueSuffix()}`;
    try {
      await this.git.run(["fetch", "--depth", "1", "--no-tags", this.request.url, `+${rev}:${ref}`]);
      // The ref file names what was fetched, without a `git rev-parse` to spawn: a commit fetched by
      // its id, or a branch still at the commit it resolved to last time (refs.json records only
      // commits, peeled by git). Anything else (a tag object to peel, a moved branch) asks git.
      const fetched = readLooseRef(join(this.paths.bare, ref));
      if (fetched !== undefined && (isFullHash(rev) ? fetched === rev : fetched === lastCommit)) return fetched;
      return await this.localCommit(ref);
    } finally {
      // git fetch writes the new ref as a loose file; removing it is `update-ref -d` without another process.
      rmSync(join(this.paths.bare, ref), { force: true });
    }
  }

  /** Makes `commit` present locally: by hash, shallowly; if the server refuses, through all refs. Then verifies it. */
  async ensureCommit(commit: string): Promise<void> {
    if (await this.hasCommit(commit)) return;
    if (this.request.offline) offlineError(this.request, this.paths);
    try {
      // git checked the objects it received against their ids.
      if ((await this.fetchRev(commit)) === commit) return;
    } catch (error) {
      if (classifyGitError(error) !== "unknown-rev") this.fail(error);
      // Servers without uploadpack.allowReachableSHA1InWant refuse a hash that no ref points at.
      await this.fetchAllRefs();
    }
    const found = await this.localCommit(commit);
    if (found === undefined) this.fail(new Error(`unknown revision ${commit}`));
    if (found !== commit) {
      throw new TsexecError(`fetchgit: ${this.request.url} gave ${found} when asked for commit ${commit}; refusing it`);
    }
  }

  /** Resolves a branch, tag (annotated ones peeled), HEAD or abbreviated hash to a full commit, fetching it. */
  async resolveMovingRev(rev: string, lastCommit?: string): Promise<string> {
    let commit: string | undefined;
    try {
      commit = await this.fetchRev(rev, lastCommit);
    } catch (error) {
      if (classifyGitError(error) !== "unknown-rev" || !/^[0-9a-f]{4,63}$/.test(rev)) this.fail(error);
    }
    if (commit !== undefined) return commit;
    if (!/^[0-9a-f]{4,63}$/.test(rev)) throw new TsexecError(`fetchgit: '${rev}' in ${this.request.url} does not name a commit (a tag of a tree or blob?); use a branch, a tag of a commit or a commit hash`);
    // Not a ref name: an abbreviated commit hash, which only the whole history can resolve.
    await this.fetchAllRefs();
    try {
      return (await this.git.run(["rev-parse", "--verify", `${rev}^{commit}`])).trim();
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (/ambiguous/i.test(text)) throw new TsexecError(`fetchgit: abbreviated hash '${rev}' is ambiguous in ${this.request.url}; give more digits`);
      this.fail(error);
    }
  }

  /**
   * With automatic maintenance off (git.ts), every fetch that brings objects leaves a pack: once
   * there are more than git's own limit (gc.autoPackLimit, 50), `git gc --auto` with git's
   * defaults consolidates them, in the foreground, under the lock, after this fetch's own ref is
   * gone (gc would pack it where the leftover cleaner does not look). Counting them is one readdir.
   */
  async tidyPacks(): Promise<void> {
    let packs: number;
    try {
      packs = readdirSync(join(this.paths.bare, "objects", "pack")).filter((name) => name.endsWith(".pack")).length;
    } catch {
      return;
    }
    if (packs <= packLimit) return;
    try {
      await this.git.run(["-c", "gc.auto=6700", "-c", `gc.autoPackLimit=${packLimit}`, "-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"]);
    } catch (error) {
      // Only tidying: the fetch itself succeeded.
      if (this.request.verbose) this.request.log(`git gc failed (the repository keeps its ${packs} packs): ${(error as Error).message.trim()}`);
    }
  }

  private async fetchAllRefs(): Promise<void> {
    const args = ["fetch", "--no-tags"];
    if (existsSync(join(this.paths.bare, "shallow"))) args.push("--unshallow");
    args.push(this.request.url, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*");
    try {
      await this.git.run(args);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * The commit the request names, fetched. A moving rev another process
   * resolved while this one waited for the lock is taken as it left it.
   */
  async resolve(): Promise<string> {
    const { request, paths } = this;
    if (isFullHash(request.rev)) {
      if (findCheckout(paths, request.rev, request.fetchSubmodules) === undefined) await this.ensureCommit(request.rev);
      return request.rev;
    }
    if (request.offline) {
      const commit = readResolutions(paths, request.log)[request.rev]?.commit ?? offlineError(request, paths);
      if (!(await this.hasCommit(commit))) offlineError(request, paths);
      return commit;
    }
    const known = readResolutions(paths, request.log)[request.rev];
    if (known !== undefined && known.resolvedAt >= request.askedAt) {
      // Resolved by the process that held the lock while this one waited: as fresh as asking again.
      if (findCheckout(paths, known.commit, request.fetchSubmodules) !== undefined || (await this.hasCommit(known.commit))) return known.commit;
    }
    const commit = await this.resolveMovingRev(request.rev, known?.commit);
    recordResolution(paths, request.rev, commit, request.log);
    return commit;
  }

  /** Archives `commit` into a temporary directory and lists its submodules (all the git work, done under the lock). */
  async extract(commit: string): Promise<{ tree: ConfinedTree; submodules: Submodule[] }> {
    const tree = new ConfinedTree(makeTempCheckout(this.paths));
    try {
      try {
        // `^{commit}`: a commit, never a bare tree (export-subst needs the commit).
        extractTar(await this.git.runBinary(["archive", "--format=tar", `${commit}^{commit}`]), tree);
      } catch (error) {
        if (error instanceof TsexecError) throw error;
        if (error instanceof UnsafeEntryError) throw unsafeEntry(this.request, commit, error);
        const invalid = /invalid path '([^']*)'/.exec((error as Error).message);
        if (invalid) throw unsafeEntry(this.request, commit, new UnsafeEntryError(invalid[1]!, "is a path git itself refuses to write ('..', '.git' or similar)"));
        throw new TsexecError(`fetchgit: could not archive commit ${commit} of ${this.request.url}: ${(error as Error).message.trim()}`);
      }
      // Submodules are declared in .gitmodules: without it (or with it export-ignored) there is nothing to add.
      const submodules = this.request.fetchSubmodules && existsSync(join(tree.root, ".gitmodules")) ? await this.submodules(commit) : [];
      return { tree, submodules };
    } catch (error) {
      removeTree(tree.root);
      throw error;
    }
  }

  /** Each submodule of `commit`: its path (checked), its URL (resolved and checked) and the commit the tree records. */
  private async submodules(commit: string): Promise<Submodule[]> {
    const listing = await this.git.run(["ls-tree", "-r", "-z", commit]);
    const gitlinks = listing
      .split("\0")
      .filter((entry) => entry.startsWith("160000 commit "))
      .map((entry) => {
        const [meta, path] = entry.split("\t") as [string, string];
        return { path, commit: meta.split(" ")[2]! };
      });
    if (gitlinks.length === 0) return [];
    let modules: Map<string, string>;
    try {
      modules = parseGitmodules(await this.git.run(["cat-file", "blob", `${commit}:.gitmodules`]));
    } catch {
      throw new TsexecError(`fetchgit: commit ${commit} of ${this.request.url} has submodules but no readable .gitmodules`);
    }
    return gitlinks.map((link) => {
      try {
        ConfinedTree.components(link.path); // refused before anything is fetched for it
      } catch (error) {
        throw error instanceof UnsafeEntryError ? unsafeEntry(this.request, commit, error) : error;
      }
      const declared = modules.get(link.path);
      if (declared === undefined) {
        throw new TsexecError(`fetchgit: submodule '${printable(link.path)}' of ${this.request.url} at ${commit} has no url in .gitmodules`);
      }
      try {
        return { path: link.path, commit: link.commit, url: normalizeUrl(resolveSubmoduleUrl(this.request.url, declared), "/") };
      } catch (error) {
        const why = (error as Error).message.replace(/^fetchgit: /, "");
        throw new TsexecError(`fetchgit: submodule '${printable(link.path)}' of ${this.request.url} at ${commit}: ${why} (its url is set in that commit's .gitmodules)`);
      }
    });
  }
}

/** The object id a loose ref file holds, if it is one. */
function readLooseRef(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** `path` → `url` of each `[submodule "name"]` section of a .gitmodules file. */
export function parseGitmodules(text: string): Map<string, string> {
  const sections = new Map<string, { path?: string; url?: string }>();
  let current: { path?: string; url?: string } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^\s+|\s+$/g, "");
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*submodule\s+"(.*)"\s*\]$/.exec(line);
    if (header) {
      current = {};
      sections.set(header[1]!, current);
      continue;
    }
    if (line.startsWith("[")) {
      current = undefined;
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*=\s*(.*)$/.exec(line);
    if (!kv || !current) continue;
    const value = kv[2]!.replace(/^"(.*)"$/, "$1");
    const key = kv[1]!.toLowerCase();
    if (key === "path") current.path = value;
    else if (key === "url") current.url = value;
  }
  const byPath = new Map<string, string>();
  for (const [name, section] of sections) {
    if (section.url !== undefined) byPath.set(section.path ?? name, section.url);
  }
  return byPath;
}
