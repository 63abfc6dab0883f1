/** `tsexec <git reference>`: running scripts straight from git, end to end over file:// and HTTP. */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { launcher, runCommand, runTsexec, tempDir } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";
import { startGitHttpServer, type GitHttpServer } from "../git/http-server.js";
import { parseReference } from "../../src/inputs/reference.js";

const printArgs = (label: string) =>
  `import { tag } from "./lib/tag.ts";\nexport default ({ args, lib }: any) => lib.io(() => console.log(tag(${JSON.stringify(label)}) + " " + JSON.stringify(args)));\n`;

let work: WorkRepo;
let bare: string;
let repoUrl: string;
let commit: string;
let server: GitHttpServer;

beforeAll(async () => {
  const root = tempDir("ref-root-");
  work = WorkRepo.create();
  commit = work.commit("scripts", {
    "lib/tag.ts": `export const tag = (label: string) => "[" + label + "]";\n`,
    "tool.ts": `/**\n * Prints its arguments.\n * More text.\n */\n${printArgs("tool")}`,
    "default.ts": `// The default script.\n${printArgs("default")}`,
    "sub/default.ts": `import { tag } from "../lib/tag.ts";\nexport default ({ args, lib }: any) => lib.io(() => console.log(tag("sub default") + " " + JSON.stringify(args)));\n`,
    "sub/other.ts": `import { defineScript } from "tsexec";\n/** The other one. */\nexport default defineScript(({ lib }) => lib.io(() => console.log("[sub other]")));\n`,
    "helper.ts": `/** Not a script. */\nexport const helper = 1;\n`,
    "takes-two.ts": `export default (a: number, b: number) => a + b;\n`,
    "named.ts": `import type { Script } from "tsexec";\n/** Named, then exported. */\nconst named: Script = ({ args, lib }) => lib.unit(args);\nexport default named;\n`,
    "empty/README.md": "no scripts here\n",
    "escape.ts": { symlink: "/etc/passwd" },
  });
  bare = work.publish(root, "scripts");
  repoUrl = pathToFileURL(bare).href;
  server = await startGitHttpServer(root);
});
afterAll(() => server.close());

const pinned = (fragment: string, extra = "") => `git+${repoUrl}?rev=${commit}${extra}#${fragment}`;

describe("running a reference", () => {
  test("pinned: runs silently from the checkout; args[0] is the reference as typed; relative imports resolve there", async () => {
    const ref = pinned("tool.ts");
    const out = await runTsexec([ref, "a", "--b"]);
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(`[tool] ${JSON.stringify([ref, "a", "--b"])}\n`);
    expect(out.code).toBe(0);
  });

  test("unpinned: runs, after one warning line naming the commit and the pinned reference (which then runs silently)", async () => {
    const ref = `git+${repoUrl}?ref=main#tool.ts`;
    const out = await runTsexec([ref]);
    const pinnedForm = `git+${repoUrl}?rev=${commit}#tool.ts`;
    expect(out.stderr).toBe(`tsexec: warning: '${ref}' is not pinned: it resolved to commit ${commit}; to run exactly this, use ${pinnedForm}\n`);
    expect(out.stdout).toBe(`[tool] ${JSON.stringify([ref])}\n`);
    const again = await runTsexec([pinnedForm]);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
  });

  test("no ref at all: the default branch, with the warning", async () => {
    const out = await runTsexec([`git+${repoUrl}#tool.ts`]);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`resolved to commit ${commit}`);
  });

  test("without #path: the checkout's default.ts", async () => {
    const ref = `git+${repoUrl}?rev=${commit}`;
    expect((await runTsexec([ref, "x"])).stdout).toBe(`[default] ${JSON.stringify([ref, "x"])}\n`);
  });

  test("?dir= makes paths relative to a subdirectory (default script and named script)", async () => {
    const dirDefault = `git+${repoUrl}?rev=${commit}&dir=sub`;
    expect((await runTsexec([dirDefault])).stdout).toBe(`[sub default] ${JSON.stringify([dirDefault])}\n`);
    expect((await runTsexec([`git+${repoUrl}?dir=sub&rev=${commit}#other.ts`])).stdout).toBe("[sub other]\n");
  });

  test("over HTTP (git+http://), pinned and unpinned", async () => {
    const url = `${server.url}/scripts.git`;
    const ref = `git+${url}?rev=${commit}#tool.ts`;
    const out = await runTsexec([ref]);
    expect(out.stderr).toBe("");
    expect(out.stdout).toContain("[tool]");
    const moving = await runTsexec([`git+${url}?ref=main#tool.ts`]);
    expect(moving.stderr).toContain(`resolved to commit ${commit}; to run exactly this, use git+${url}?rev=${commit}#tool.ts`);
  });
});

describe("github: shorthand, end to end", () => {
  test("github:<owner>/<repo>/<rev>#path fetches https://github.com/<owner>/<repo>.git (redirected here to the fixture by git's insteadOf)", async () => {
    // A HOME whose .gitconfig points github.com at the local fixture: no network.
    const home = tempDir("home-");
    const served = bare.slice(0, -"/scripts.git".length);
    mkdirSync(join(served, "owner"), { recursive: true });
    symlinkSync(bare, join(served, "owner", "scripts.git"));
    // https itself is forbidden, so a rewrite that did not apply could never reach the network.
    writeFileSync(
      join(home, ".gitconfig"),
      `[url "${pathToFileURL(served).href}/"]\n\tinsteadOf = https://github.com/\n[protocol "https"]\n\tallow = never\n`,
    );
    const ref = `github:owner/scripts/${commit}#tool.ts`;
    const out = await runTsexec([ref, "z"], { env: { HOME: home } });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(`[tool] ${JSON.stringify([ref, "z"])}\n`);
    const moving = await runTsexec(["github:owner/scripts/main?dir=sub"], { env: { HOME: home } });
    expect(moving.stdout).toContain("[sub default]");
    expect(moving.stderr).toContain(`to run exactly this, use github:owner/scripts/${commit}?dir=sub\n`);
  });
});

describe("pinning and trust", () => {
  test("--pinned-only and TSEXEC_PINNED_ONLY=1 refuse unpinned references, before any fetch", async () => {
    const cacheDir = tempDir("cache-");
    const ref = `git+${repoUrl}?ref=main#tool.ts`;
    const flag = await runTsexec(["--pinned-only", ref], { cacheDir });
    expect(flag.code).toBe(1);
    expect(flag.stderr).toBe(
      `error: refusing unpinned reference '${ref}' (--pinned-only or TSEXEC_PINNED_ONLY): pin it to a full commit hash, as in git+${repoUrl}?rev=<commit>#tool.ts\n`,
    );
    const env = await runTsexec([ref], { cacheDir, env: { TSEXEC_PINNED_ONLY: "1" } });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain("refusing unpinned reference");
    const { existsSync } = await import("node:fs");
    expect(existsSync(join(cacheDir, "git"))).toBe(false);
    expect((await runTsexec(["--pinned-only", pinned("tool.ts")], { cacheDir })).code).toBe(0);
  });

  test("a moving ref is re-resolved at most hourly (kept in refs.json), and now with --refresh", async () => {
    const w = WorkRepo.create();
    const first = w.commit("one", { "s.ts": `export default ({ lib }: any) => lib.io(() => console.log("one"));\n` });
    const b = w.publish(tempDir("ref-root-"), "moving");
    const ref = `git+${pathToFileURL(b).href}?ref=main#s.ts`;
    const cacheDir = tempDir("cache-");
    expect((await runTsexec([ref], { cacheDir })).stdout).toBe("one\n");
    const second = w.commit("two", { "s.ts": `export default ({ lib }: any) => lib.io(() => console.log("two"));\n` });
    w.push(b);
    const cached = await runTsexec([ref], { cacheDir });
    expect(cached.stdout).toBe("one\n");
    expect(cached.stderr).toContain(`resolved to commit ${first}`);
    const refreshed = await runTsexec(["--refresh", ref], { cacheDir });
    expect(refreshed.stdout).toBe("two\n");
    expect(refreshed.stderr).toContain(`resolved to commit ${second}`);
  });

  test("a shebang wrapper: #!/usr/bin/env -S tsexec --pinned-only git+file:///…?rev=…#tool.ts", async () => {
    const bin = tempDir("bin-");
    symlinkSync(launcher, join(bin, "tsexec"));
    const wrapper = join(tempDir("wrapper-"), "tool");
    writeFileSync(wrapper, `#!/usr/bin/env -S tsexec --pinned-only ${pinned("tool.ts")}\n`);
    chmodSync(wrapper, 0o755);
    const out = await runCommand(wrapper, ["x", "y"], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(`[tool] ${JSON.stringify([pinned("tool.ts"), wrapper, "x", "y"])}\n`);
  });
});

describe("tsexec show", () => {
  test("lists the scripts with their doc comment's first line, and the commit, without running them", async () => {
    const out = await runTsexec(["show", `git+${repoUrl}?rev=${commit}`]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(
      [
        `git+${repoUrl}?rev=${commit} at commit ${commit}:`,
        "  default.ts      The default script.",
        "  named.ts        Named, then exported.",
        "  sub/default.ts",
        "  sub/other.ts    The other one.",
        "  tool.ts         Prints its arguments.",
        "",
      ].join("\n"),
    );
  });

  test("with ?dir= it lists that directory; unpinned it warns as a run does", async () => {
    const out = await runTsexec(["show", `git+${repoUrl}?ref=main&dir=sub`]);
    expect(out.stdout).toBe(`git+${repoUrl}?ref=main&dir=sub at commit ${commit}:\n  default.ts\n  other.ts    The other one.\n`);
    expect(out.stderr).toContain(`resolved to commit ${commit}`);
  });

  test("#path narrows the listing to that script or directory", async () => {
    const one = await runTsexec(["show", `git+${repoUrl}?rev=${commit}#tool.ts`]);
    expect(one.stdout).toBe(`git+${repoUrl}?rev=${commit}#tool.ts at commit ${commit}:\n  tool.ts  Prints its arguments.\n`);
    const dir = await runTsexec(["show", `git+${repoUrl}?rev=${commit}#sub`]);
    expect(dir.stdout).toBe(`git+${repoUrl}?rev=${commit}#sub at commit ${commit}:\n  sub/default.ts\n  sub/other.ts    The other one.\n`);
    const none = await runTsexec(["show", `git+${repoUrl}?rev=${commit}#nothing.ts`]);
    expect(none.stdout).toContain("(no scripts at 'nothing.ts': no module default-exports a function of { args, lib })");
  });

  test("a script file named show still runs as ./show, and as show without a reference after it", async () => {
    const dir = tempDir("show-");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "show"), `export default ({ args, lib }) => lib.io(() => console.log("local show " + args.slice(1).join(",")));\n`);
    writeFileSync(join(dir, "package.json"), `{ "type": "module" }\n`);
    expect((await runTsexec(["./show", "a"], { cwd: dir })).stdout).toBe("local show a\n");
    expect((await runTsexec(["show"], { cwd: dir })).stdout).toBe("local show \n");
  });
});

describe("offline and usage", () => {
  test("--offline runs a pinned reference from the cache and names a missing one", async () => {
    const cacheDir = tempDir("cache-");
    const missing = await runTsexec(["--offline", pinned("tool.ts")], { cacheDir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(new RegExp(`^error: fetchgit: offline .*'${commit}' of ${repoUrl} is not in the cache`));
    expect((await runTsexec([pinned("tool.ts")], { cacheDir })).code).toBe(0);
    const offline = await runTsexec([pinned("tool.ts")], { cacheDir, env: { TSEXEC_OFFLINE: "1" } });
    expect(offline.stdout).toContain("[tool]");
  });

  test("show without a reference (and no file named show) is a usage error", async () => {
    const out = await runTsexec(["show"], { cwd: tempDir("empty-") });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("error: show takes one reference or path: tsexec show <reference | path>");
  });
});

describe("errors: one line, exit 1", () => {
  test.each([
    ["an unknown host form", () => "gitlab:owner/repo#x.ts", /^error: unknown reference form 'gitlab:owner\/repo#x\.ts': use git\+https/],
    ["a non-git URL", () => "https://example.invalid/x.ts", /^error: unknown reference form/],
    ["no script path and no default.ts", () => `git+${repoUrl}?rev=${commit}&dir=empty`, /names no script and has neither default\.ts nor index\.ts in empty /],
    ["a path escaping the checkout", () => pinned("../../x.ts"), /the path '\.\.\/\.\.\/x\.ts' escapes the checkout$/],
    ["a symlink out of the checkout", () => pinned("escape.ts"), /the path 'escape\.ts' leads out of the checkout of .* at [0-9a-f]{40} \(a symbolic link to \/etc\/passwd\); refusing to read it$/],
    ["a missing file", () => pinned("nope.ts"), new RegExp(`no file 'nope\\.ts' in .* at ${"[0-9a-f]{40}"}$`)],
    ["an unreachable repository", () => `git+file:///nonexistent/repo.git?rev=${commit}#x.ts`, /file:\/\/\/nonexistent\/repo\.git is not a git repository/],
    ["a rev that is not a full hash", () => `git+${repoUrl}?rev=abc123#tool.ts`, /'rev=abc123' .* is not a full commit hash; use ref=abc123/],
    ["an unknown parameter", () => `git+${repoUrl}?branch=main#tool.ts`, /unknown parameter 'branch'/],
    ["a bad github reference", () => "github:only-owner#x.ts", /is not a github reference/],
  ])("%s", async (_what, ref, message) => {
    const out = await runTsexec([ref()]);
    expect(out.code).toBe(1);
    expect(out.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(out.stderr.trimEnd()).toMatch(message);
  });
});

describe("parsing", () => {
  const hash = "0123456789abcdef0123456789abcdef01234567";
  test("github shorthand", () => {
    const r = parseReference(`github:owner/repo/${hash}?dir=tools#bin/x.ts`);
    expect([r.url, r.rev, r.ref, r.dir, r.path]).toEqual(["https://github.com/owner/repo.git", hash, undefined, "tools", "bin/x.ts"]);
    const moving = parseReference("github:owner/repo/feature/x#a.ts");
    expect([moving.rev, moving.ref, moving.pinnedTo(hash)]).toEqual([undefined, "feature/x", `github:owner/repo/${hash}#a.ts`]);
    expect(parseReference("github:o/r").ref).toBeUndefined();
  });
  test("git+ssh and git+https keep user and host; the pinned form drops ref", () => {
    const r = parseReference(`git+ssh://git@host.example/srv/repo.git?ref=v1&dir=d#s.ts`);
    expect([r.url, r.ref, r.dir, r.path]).toEqual(["ssh://git@host.example/srv/repo.git", "v1", "d", "s.ts"]);
    expect(r.pinnedTo(hash)).toBe(`git+ssh://git@host.example/srv/repo.git?dir=d&rev=${hash}#s.ts`);
  });
});
