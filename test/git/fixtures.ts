/**
 * Fixture repositories for fetchgit and reference tests, built in temporary
 * directories with the git command line. Served repositories are bare clones
 * under one root (`<root>/<name>.git`), reachable as file:// URLs or through
 * test/git/http-server.ts.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir } from "../helpers.js";

const identity = {
  GIT_AUTHOR_NAME: "Fixture",
  GIT_AUTHOR_EMAIL: "fixture@example.invalid",
  GIT_COMMITTER_NAME: "Fixture",
  GIT_COMMITTER_EMAIL: "fixture@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: { ...process.env, ...identity }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

export type Tree = Record<string, string | { text: string; executable?: boolean } | { symlink: string }>;

/** A working repository to commit into. */
export class WorkRepo {
  constructor(readonly dir: string) {}

  static create(dir: string = join(tempDir("fixture-work-"), "repo")): WorkRepo {
    mkdirSync(dir, { recursive: true });
    git(dir, "init", "-q", "-b", "main");
    return new WorkRepo(dir);
  }

  write(files: Tree): this {
    for (const [name, content] of Object.entries(files)) {
      const path = join(this.dir, name);
      mkdirSync(dirname(path), { recursive: true });
      if (typeof content === "string") writeFileSync(path, content);
      else if ("symlink" in content) symlinkSync(content.symlink, path);
      else {
        writeFileSync(path, content.text);
        if (content.executable) chmodSync(path, 0o755);
      }
    }
    return this;
  }

  /** Commits everything; returns the new commit's hash. */
  commit(message: string, files: Tree = {}): string {
    this.write(files);
    git(this.dir, "add", "-A");
    git(this.dir, "commit", "-q", "--allow-empty", "-m", message);
    return git(this.dir, "rev-parse", "HEAD");
  }

  /** Commits what is staged, as is (a gitlink has no work tree to `add -A`). */
  commitIndex(message: string): string {
    git(this.dir, "commit", "-q", "-m", message);
    return git(this.dir, "rev-parse", "HEAD");
  }

  /** Stages `files`. */
  stage(files: Tree): this {
    this.write(files);
    git(this.dir, "add", "-A");
    return this;
  }

  /** Stages `commit` of another repository as a submodule at `path` with `url` (relative URLs allowed). */
  addSubmodule(path: string, url: string, commit: string): void {
    git(this.dir, "config", "-f", ".gitmodules", `submodule.${path}.path`, path);
    git(this.dir, "config", "-f", ".gitmodules", `submodule.${path}.url`, url);
    git(this.dir, "add", ".gitmodules");
    git(this.dir, "update-index", "--add", "--cacheinfo", `160000,${commit},${path}`);
  }

  /** Publishes the repository as `<root>/<name>.git` (a bare clone with all branches and tags). */
  publish(root: string, name: string): string {
    const bare = join(root, `${name}.git`);
    git(root, "clone", "-q", "--bare", "--no-local", this.dir, bare);
    git(bare, "config", "http.receivepack", "false");
    return bare;
  }

  /** Pushes branches and tags again to a published copy. */
  push(bare: string): void {
    git(this.dir, "push", "-q", "--force", bare, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*");
  }
}

export interface ToolFixture {
  /** Where the bare repositories live. */
  readonly root: string;
  readonly work: WorkRepo;
  readonly bare: string;
  readonly fileUrl: string;
  readonly commits: { readonly first: string; readonly dev: string; readonly main: string };
}

/**
 * The `tool` repository:
 * - first commit: tool.ts, lib/greet.ts, export-ignore and export-subst files,
 *   an executable script and a symlink; lightweight tag `v1-light`, annotated tag `v1`;
 * - branch `dev`: one more commit; branch `main`: another one.
 */
export function toolFixture(root: string = tempDir("fixture-root-")): ToolFixture {
  const work = WorkRepo.create();
  const first = work.commit("first", {
    ".gitattributes": "secret.txt export-ignore\nversion.txt export-subst\n",
    "secret.txt": "not exported\n",
    "version.txt": "commit $Format:%H$\n",
    "tool.ts": `import { greet } from "./lib/greet.ts";\nexport default ({ args, lib }: any) => lib.io(() => console.log(greet("first", args)));\n`,
    "lib/greet.ts": `export const greet = (who: string, args: readonly string[]) => \`tool \${who} \${JSON.stringify(args)}\`;\n`,
    "bin/run.sh": { text: "#!/bin/sh\necho run\n", executable: true },
    "link.ts": { symlink: "tool.ts" },
  });
  git(work.dir, "tag", "v1-light");
  git(work.dir, "tag", "-a", "v1", "-m", "annotated v1");
  git(work.dir, "checkout", "-q", "-b", "dev");
  const dev = work.commit("dev", { "dev.txt": "on dev\n" });
  git(work.dir, "checkout", "-q", "main");
  const main = work.commit("main", { "main.txt": "on main\n" });
  const bare = work.publish(root, "tool");
  return { root, work, bare, fileUrl: pathToFileURL(bare).href, commits: { first, dev, main } };
}

export interface SubmoduleFixture {
  readonly root: string;
  readonly appUrl: string;
  readonly app: string;
  readonly lib: string;
  readonly leaf: string;
}

/** `app` with submodule `vendor/lib` (url ../lib.git), which has submodule `deep` (url ./../leaf.git). */
export function submoduleFixture(root: string = tempDir("fixture-root-")): SubmoduleFixture {
  const leafRepo = WorkRepo.create();
  const leaf = leafRepo.commit("leaf", { "leaf.txt": "leaf content\n" });
  leafRepo.publish(root, "leaf");
  const libRepo = WorkRepo.create();
  libRepo.stage({ "lib.txt": "lib content\n" });
  libRepo.addSubmodule("deep", "./../leaf.git", leaf);
  const lib = libRepo.commitIndex("lib");
  libRepo.publish(root, "lib");
  const appRepo = WorkRepo.create();
  appRepo.stage({ "app.txt": "app content\n" });
  appRepo.addSubmodule("vendor/lib", "../lib.git", lib);
  const app = appRepo.commitIndex("app");
  const bare = appRepo.publish(root, "app");
  return { root, appUrl: pathToFileURL(bare).href, app, lib, leaf };
}

/** One entry of a tree written byte by byte: git's own checks (sorting, duplicates, `..`) do not apply. */
export interface RawEntry {
  readonly mode: "100644" | "100755" | "120000" | "40000" | "160000";
  readonly name: string;
  readonly id: string;
}

/** Objects written with `git hash-object --literally`, for crafted (hostile) trees git itself would never make. */
export class Crafter {
  constructor(readonly repo: WorkRepo) {}

  blob(content: string): string {
    return execFileSync("git", ["hash-object", "-w", "--stdin"], { cwd: this.repo.dir, input: content, encoding: "utf8" }).trim();
  }

  /** A tree object with exactly `entries`, in the order given. */
  tree(entries: readonly RawEntry[]): string {
    const bytes = Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.id, "hex")])));
    return execFileSync("git", ["hash-object", "--literally", "-t", "tree", "-w", "--stdin"], { cwd: this.repo.dir, input: bytes, encoding: "utf8" }).trim();
  }

  /** A commit of `tree` on the current branch (moved to it). */
  commit(tree: string, message = "crafted"): string {
    const parent = (() => {
      try {
        return ["-p", git(this.repo.dir, "rev-parse", "--verify", "-q", "HEAD")];
      } catch {
        return [];
      }
    })();
    const commit = git(this.repo.dir, "commit-tree", ...parent, "-m", message, tree);
    git(this.repo.dir, "update-ref", "HEAD", commit);
    return commit;
  }
}
