/**
 * Runs git through simple-git (loaded here, so only when a fetch really
 * needs git). simple-git spawns git without a shell and keeps its guards
 * against option injection and unsafe configuration on; tsexec adds no
 * prompts (GIT_TERMINAL_PROMPT=0, no askpass), a stall timeout and errors
 * that name the URL and rev.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { Script } from "node:vm";
import type { SimpleGit, SimpleGitOptions, SimpleGitProgressEvent } from "simple-git";
import { TsexecError } from "../../base/errors.js";
import { beforeSpawn } from "../../base/children.js";

type SimpleGitFactory = (options: Partial<SimpleGitOptions>) => SimpleGit;
let simpleGitFactory: SimpleGitFactory | undefined;

/** simple-git, loaded on first use: start-up never pays for it. */
function simpleGit(options: Partial<SimpleGitOptions>): SimpleGit {
  simpleGitFactory ??= loadSimpleGit().simpleGit;
  return simpleGitFactory(options);
}

/** The file name of simple-git's bundle beside the built tsexec (scripts/build.mjs); undefined when running from source. */
declare const __TSEXEC_GIT_BUNDLE__: string | undefined;

/**
 * The built tsexec carries simple-git (with its dependencies) as one script,
 * dist/git.cjs, compiled here with its V8 code cache: Node 20 has no compile
 * cache for packages, and requiring simple-git, debug and @kwsites file by
 * file cost about 20-30 ms of each cold fetch. From source, the package.
 */
function loadSimpleGit(): { simpleGit: SimpleGitFactory } {
  if (typeof __TSEXEC_GIT_BUNDLE__ !== "string") return createRequire(import.meta.url)("simple-git") as { simpleGit: SimpleGitFactory };
  const file = new URL(`./${__TSEXEC_GIT_BUNDLE__}`, import.meta.url).pathname;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    // No code cache: only slower.
  }
  const script = new Script(`(function (exports, require, module) {${readFileSync(file, "utf8")}\n})`, { filename: file, cachedData });
  const module = { exports: {} as { simpleGit: SimpleGitFactory } };
  (script.runInThisContext() as (e: object, r: NodeJS.Require, m: object) => void)(module.exports, createRequire(file), module);
  return module.exports;
}

export interface GitOptions {
  /** Kill git when it makes no progress for this long. */
  readonly timeoutMs: number;
  readonly verbose: boolean;
  readonly log: (line: string) => void;
  readonly onProgress?: ((event: SimpleGitProgressEvent) => void) | undefined;
}

/** Variables simple-git's environment guard refuses; inherited values are dropped, the rest passed on. */
const guardedNames = new Set(["editor", "pager", "prefix", "ssh_askpass", "visual"]);
/** Harmless git variables users rely on (certificates); passed through when set. */
const passedGitVariables = ["GIT_SSL_CAINFO", "GIT_SSL_CAPATH"];

function gitEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower.startsWith("git_") || guardedNames.has(lower)) continue;
    env[key] = value;
  }
  for (const key of passedGitVariables) if (process.env[key] !== undefined) env[key] = process.env[key];
  env.GIT_TERMINAL_PROMPT = "0";
  return env;
}

/**
 * Configuration of every git command in the cache's repositories (`git -c`, so repositories
 * made by earlier versions get it too). A fetch there is one step of a tsexec run, waited
 * for: git's automatic maintenance (`git maintenance run --auto` after each fetch, a process
 * of its own, or `gc --auto` in older gits) is off, and a fetch keeps the pack it receives
 * (one file, where unpacking writes every object as a file of its own; both writing and the
 * connectivity check and `git archive` reading it are faster). The packs fetches leave are
 * consolidated by checkout.ts (tidyPacks) when there are many, as `gc --auto` would.
 */
export const cacheRepositoryConfig = ["maintenance.auto=false", "gc.auto=0", "fetch.unpackLimit=1"];

export class Git {
  private readonly git: SimpleGit;
  constructor(
    readonly dir: string,
    private readonly options: GitOptions,
  ) {
    beforeSpawn(); // before the environment is copied: git carries the run's mark
    this.git = simpleGit({
      baseDir: dir,
      timeout: { block: options.timeoutMs },
      config: cacheRepositoryConfig,
      // A command is done when git's output has closed (every byte read), not 50 ms after its exit
      // (simple-git's fallback, which can cut a large output short on a busy machine, and whose
      // timer kept every fetching run alive 50 ms after its last git). simple-git documents
      // close-only as its coming default. A process git leaves behind holding stderr (a remote
      // helper of a git killed for stalling) is dealt with by closeAfterStdout.
      completion: { onClose: true, onExit: false },
      allowEnvironment: ["GIT_TERMINAL_PROMPT", ...passedGitVariables],
      ...(options.onProgress ? { progress: options.onProgress } : {}),
    }).env(gitEnvironment());
    this.git.outputHandler((_command, stdout, stderr) => {
      const capture = this.capture;
      if (capture) stdout.on("data", (chunk: Buffer) => capture.push(chunk));
      // They are a child process's pipes (net.Socket), whatever simple-git's types say.
      closeAfterStdout(stdout as Readable, stderr as Readable);
    });
  }

  /** Where runBinary collects the stdout of the command it runs. */
  private capture: Buffer[] | undefined;

  /**
   * Runs `git <args>` in `dir`; resolves to its stdout. git's own lock files
   * can still be held by a git that outlived a killed tsexec (whose lock was
   * taken over as stale): that contention is waited out, for up to a minute.
   */
  async run(args: readonly string[]): Promise<string> {
    if (this.options.verbose) this.options.log(`git ${args.join(" ")}   (in ${this.dir})`);
    const started = Date.now();
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await this.git.raw([...args]);
      } catch (error) {
        if (!isLockContention(error) || Date.now() - started > 60_000) throw error;
        if (this.options.verbose) this.options.log(`git: the repository is busy (an earlier, killed fetch?); retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Runs `git <args>` and resolves to its stdout as bytes (`git archive`'s tar
   * stream; simple-git's own result is text). Reading stdout is much faster
   * than `git archive --output`, which simple-git handles slowly.
   */
  async runBinary(args: readonly string[]): Promise<Buffer> {
    const chunks: Buffer[] = [];
    this.capture = chunks;
    try {
      await this.run(args);
    } finally {
      this.capture = undefined;
    }
    return Buffer.concat(chunks);
  }
}

/** How long stderr may stay open after stdout has ended (git exited) before it is closed from this side. */
const stderrGraceMs = 500;

/**
 * A git command is over when its output streams have closed. git's stdout ends when git exits;
 * its stderr can stay open longer when git leaves a process behind that inherited it (the
 * remote helper of a git that simple-git killed for stalling): stderr is closed from this
 * side half a second after stdout ended, so the command still completes (with git's exit
 * status) instead of waiting for that process.
 */
function closeAfterStdout(stdout: Readable, stderr: Readable): void {
  stdout.once("end", () => {
    if (stderr.closed) return;
    const timer = setTimeout(() => stderr.destroy(), stderrGraceMs);
    stderr.once("close", () => clearTimeout(timer));
  });
}

function isLockContention(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /shallow file has changed since we read it|Unable to create '[^']*\.lock': File exists|cannot lock ref/i.test(text);
}

export type GitFailure = "unknown-rev" | "not-a-repository" | "unreachable" | "timeout" | "other";

/** What went wrong, from git's message. */
export function classifyGitError(error: unknown): GitFailure {
  const text = error instanceof Error ? error.message : String(error);
  if (/block timeout reached/.test(text)) return "timeout";
  if (/couldn't find remote ref|not our ref|unadvertised object|upload-pack: not our ref|remote error: .*(not our ref|want)|bad object|unknown revision|Needed a single revision|invalid object name|not a valid object name/i.test(text)) {
    return "unknown-rev";
  }
  if (/does not appear to be a git repository|not a git repository|repository '.*' not found|Repository not found|\b404\b|No such file or directory/i.test(text)) {
    return "not-a-repository";
  }
  if (/Could not resolve host|Connection refused|unable to access|Failed to connect|Connection timed out|Network is unreachable|Could not read from remote|early EOF|unexpected disconnect/i.test(text)) {
    return "unreachable";
  }
  return "other";
}

/** A user-facing error for a failed git step, naming the URL and rev. */
export function gitError(error: unknown, url: string, rev: string, timeoutMs: number): TsexecError {
  const detail = (error instanceof Error ? error.message : String(error)).trim().split("\n").filter(Boolean).slice(-3).join("; ");
  switch (classifyGitError(error)) {
    case "timeout":
      return new TsexecError(
        `fetchgit: git timed out after ${Math.round(timeoutMs / 1000)} s without progress fetching '${rev}' from ${url}; check the network, or raise TSEXEC_GIT_TIMEOUT (seconds)`,
      );
    case "unknown-rev":
      return new TsexecError(`fetchgit: unknown rev '${rev}' in ${url}: no such commit, tag or branch (${detail})`);
    case "not-a-repository":
      return new TsexecError(`fetchgit: ${url} is not a git repository (or does not exist), fetching '${rev}' (${detail})`);
    case "unreachable":
      return new TsexecError(`fetchgit: cannot reach ${url} to fetch '${rev}': ${detail}`);
    default:
      return new TsexecError(`fetchgit: git failed fetching '${rev}' from ${url}: ${detail}`);
  }
}
