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
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TsexecError } from "../../runtime/errors.js";
import { makeReadOnly, removeTree, uniqueSuffix, writeFileAtomic } from "../../runtime/files.js";
import {
  acquireLock,
  checkoutName,
  findCheckout,
  makeTempCheckout,
  readResolutions,
  recordResolution,
  removeStaleTemporaries,
  repositoryPaths,
  type RepositoryPaths,
} from "./cache.js";
import { Git, classifyGitError, gitError } from "./git.js";
import { contentHash } from "./hash.js";
import { progressBar, type ProgressBar } from "./progress.js";
import { ConfinedTree, UnsafeEntryError } from "./confined.js";
import { extractTar } from "./tar.js";
import { isFullHash, normalizeUrl, resolveSubmoduleUrl } from "./url.js";
import { offlineError, verifyHash, type FetchRequest, type FetchResult } from "./request.js";

export async function fetchCheckout(request: FetchRequest): Promise<FetchResult> {
  const paths = repositoryPaths(request.cacheDir, request.url);
  const pinned = isFullHash(request.rev);
  const release = await acquireLock(paths, request.url, request.verbose ? request.log : undefined);
  let bar: ProgressBar | undefined;
  try {
    removeStaleTemporaries(paths);
    bar = progressBar(`${request.url} ${request.rev}`);
    const fresh = ensureBareRepository(paths, request);
    const git = new Git(paths.bare, {
      timeoutMs: request.timeoutMs,
      verbose: request.verbose,
      log: request.log,
      onProgress: bar ? (event) => bar!.update(event) : undefined,
    });
    const session = new Session(git, paths, request, fresh);
    let commit: string;
    if (pinned) {
      commit = request.rev;
      const done = findCheckout(paths, commit, request.fetchSubmodules);
      if (done) return { path: verifyHash(done, request), commit, pinned };
      await session.ensureCommit(commit);
    } else if (request.offline) {
      commit = readResolutions(paths)[request.rev]?.commit ?? offlineError(request, paths);
      if (!(await session.hasCommit(commit))) offlineError(request, paths);
    } else {
      commit = await session.resolveMovingRev(request.rev);
      recordResolution(paths, request.rev, commit);
      const done = findCheckout(paths, commit, request.fetchSubmodules);
      if (done) return { path: verifyHash(done, request), commit, pinned };
    }
    const path = await session.assemble(commit);
    return { path, commit, pinned };
  } finally {
    bar?.done();
    release();
  }
}

/** Creates the bare repository (in a temporary directory, renamed into place); true if it was just made. */
function ensureBareRepository(paths: RepositoryPaths, request: FetchRequest): boolean {
  if (existsSync(join(paths.bare, "HEAD"))) return false;
  mkdirSync(paths.root, { recursive: true });
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

  /** Makes `commit` present locally: by hash, shallowly; if the server refuses, through all refs. Then verifies it. */
  async ensureCommit(commit: string): Promise<void> {
    if (await this.hasCommit(commit)) return;
    if (this.request.offline) offlineError(this.request, this.paths);
    try {
      await this.git.run(["fetch", "--depth", "1", "--no-tags", this.request.url, commit]);
      // git checked the objects it received against their ids; FETCH_HEAD names the commit it fetched.
      if (fetchedCommit(this.paths) === commit) return;
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
  async resolveMovingRev(rev: string): Promise<string> {
    try {
      await this.git.run(["fetch", "--depth", "1", "--no-tags", this.request.url, rev]);
      const commit = await this.localCommit("FETCH_HEAD");
      if (commit) return commit;
      throw new TsexecError(`fetchgit: '${rev}' in ${this.request.url} does not name a commit`);
    } catch (error) {
      if (error instanceof TsexecError || classifyGitError(error) !== "unknown-rev" || !/^[0-9a-f]{4,63}$/.test(rev)) this.fail(error);
    }
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

  /** Archives `commit` into a temporary directory, adds submodules, checks the hash, renames it into place. */
  async assemble(commit: string): Promise<string> {
    const temp = makeTempCheckout(this.paths);
    const tree = new ConfinedTree(temp);
    try {
      try {
        // `^{commit}`: a commit, never a bare tree (export-subst needs the commit).
        extractTar(await this.git.runBinary(["archive", "--format=tar", `${commit}^{commit}`]), tree);
      } catch (error) {
        if (error instanceof TsexecError) throw error;
        if (error instanceof UnsafeEntryError) throw this.unsafeEntry(commit, error);
        throw new TsexecError(`fetchgit: could not archive commit ${commit} of ${this.request.url}: ${(error as Error).message.trim()}`);
      }
      // Submodules are declared in .gitmodules: without it (or with it export-ignored) there is nothing to add.
      if (this.request.fetchSubmodules && existsSync(join(temp, ".gitmodules"))) await this.addSubmodules(commit, tree);
      if (this.request.hash !== undefined) {
        const actual = contentHash(temp);
        if (actual !== this.request.hash) {
          throw new TsexecError(
            `fetchgit: hash mismatch for ${this.request.url} at ${commit}: expected ${this.request.hash}, got ${actual}; nothing was cached`,
          );
        }
      }
      const final = join(this.paths.checkouts, checkoutName(commit, this.request.fetchSubmodules));
      if (this.request.hash !== undefined) writeFileAtomic(`${final}.json`, JSON.stringify({ commit, contentHash: this.request.hash }));
      makeReadOnly(temp);
      renameSync(temp, final);
      return final;
    } catch (error) {
      removeTree(temp);
      throw error;
    }
  }

  /** The one error for a tree that tries to write outside its checkout. */
  private unsafeEntry(commit: string, error: UnsafeEntryError): TsexecError {
    return new TsexecError(
      `fetchgit: refusing commit ${commit} of ${this.request.url}: its ${error.message}, which could write outside the checkout (a crafted tree); nothing was written or cached, do not use this commit`,
    );
  }

  /** Fetches each submodule at the commit the tree records, through the same cache, and copies it in. */
  private async addSubmodules(commit: string, tree: ConfinedTree): Promise<void> {
    const listing = await this.git.run(["ls-tree", "-r", "-z", commit]);
    const gitlinks = listing
      .split("\0")
      .filter((entry) => entry.startsWith("160000 commit "))
      .map((entry) => {
        const [meta, path] = entry.split("\t") as [string, string];
        return { path, commit: meta.split(" ")[2]! };
      });
    if (gitlinks.length === 0) return;
    let modules: Map<string, string>;
    try {
      modules = parseGitmodules(await this.git.run(["cat-file", "blob", `${commit}:.gitmodules`]));
    } catch {
      throw new TsexecError(`fetchgit: commit ${commit} of ${this.request.url} has submodules but no readable .gitmodules`);
    }
    // Imported lazily: index.ts is the module that imports this one.
    const { fetchgitPath } = await import("./index.js");
    for (const link of gitlinks) {
      try {
        ConfinedTree.components(link.path); // refused before anything is fetched for it
      } catch (error) {
        throw error instanceof UnsafeEntryError ? this.unsafeEntry(commit, error) : error;
      }
      const declared = modules.get(link.path);
      if (declared === undefined) {
        throw new TsexecError(`fetchgit: submodule '${link.path}' of ${this.request.url} at ${commit} has no url in .gitmodules`);
      }
      let url: string;
      try {
        url = normalizeUrl(resolveSubmoduleUrl(this.request.url, declared), "/");
      } catch (error) {
        const why = (error as Error).message.replace(/^fetchgit: /, "");
        throw new TsexecError(`fetchgit: submodule '${link.path}' of ${this.request.url} at ${commit}: ${why} (its url is set in that commit's .gitmodules)`);
      }
      const sub = await fetchgitPath({ ...this.request, url, rev: link.commit, hash: undefined, fetchSubmodules: true });
      try {
        tree.copyIn(link.path, sub.path);
      } catch (error) {
        throw error instanceof UnsafeEntryError ? this.unsafeEntry(commit, error) : error;
      }
    }
  }
}

/** The object id on FETCH_HEAD's first line (what the last fetch got). */
function fetchedCommit(paths: RepositoryPaths): string | undefined {
  try {
    return /^([0-9a-f]+)\t/.exec(readFileSync(join(paths.bare, "FETCH_HEAD"), "utf8"))?.[1];
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
