/**
 * `tsexec show <path>`: a local directory or file, listed as a git reference
 * of the same tree is, and treated as just as untrusted (a cloned repository):
 * no link followed out, control characters escaped, nothing written into it.
 * Paths, references and registry names are told apart by run's rule.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";

const script = (doc: string) => `/** ${doc} */\nexport default ({ args, lib }: any) => lib.unit(args);\n`;

let base: string;
let work: WorkRepo;
let url: string;
let commit: string;
let outside: string;

beforeAll(() => {
  base = tempDir("show-local-");
  outside = join(base, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.ts"), script("outside the directory"));
  work = WorkRepo.create(join(base, "tools"));
  commit = work.commit("tools", {
    "package.json": JSON.stringify({ name: "tools", bin: { deploy: "bin/deploy.ts", lint: "lint.ts" } }),
    "bin/deploy.ts": script("Deploys a release."),
    "lint.ts": script("Lints the tree."),
    "util/helper.ts": "export const helper = 1;\n",
    "util/report.ts": script("Prints a report."),
    "notes.md": "not a script\n",
    "evil\u001b[31mname\u0007.ts": script("bell \u0007 and \u001b]0;title\u0007 in a comment"),
    "new\nline.ts": script("a name with a line break"),
    "with-input.ts": `export const inputs = { data: "git+file:///nowhere/data.git?ref=v1" };\n${script("Uses an input.")}`,
  });
  url = `git+${pathToFileURL(work.publish(base, "tools")).href}?rev=${commit}`;
  // What a clone may hold beside its tracked files: links out (planted), node_modules, .git.
  work.write({
    "link.ts": { symlink: join(outside, "secret.ts") },
    "out": { symlink: outside },
    "node_modules/dep/tool.ts": script("a dependency's script"),
    ".git/hooks/tool.ts": script("inside .git"),
  });
});

const body = (stdout: string) => stdout.split("\n").slice(1).join("\n");

describe("tsexec show <local directory>", () => {
  test("lists what the git reference of the same tree lists (apps, scripts, escapes), follows no link out, skips node_modules and .git", async () => {
    const local = await runTsexec(["show", work.dir]);
    expect(local.stderr).toBe("");
    expect(local.code).toBe(0);
    const remote = await runTsexec(["show", url]);
    expect(remote.code).toBe(0);
    expect(local.stdout.split("\n")[0]).toBe(`${work.dir} (local directory ${work.dir}):`);
    expect(body(local.stdout)).toBe(body(remote.stdout));
    expect(body(local.stdout)).toBe(
      [
        "  apps:",
        "    deploy → bin/deploy.ts  (tsexec script)  Deploys a release.",
        "    lint → lint.ts          (tsexec script)  Lints the tree.",
        "  scripts:",
        "    evil\\x1b[31mname\\x07.ts  bell \\x07 and \\x1b]0;title\\x07 in a comment",
        "    new\\nline.ts             a name with a line break",
        "    util/report.ts           Prints a report.",
        "    with-input.ts            Uses an input.",
        "  inputs:",
        "    with-input.ts: data  git+file:///nowhere/data.git?ref=v1  not locked",
        "",
      ].join("\n"),
    );
    expect(local.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(local.stdout).not.toContain("outside");
    expect(local.stdout).not.toContain("dependency");
    expect(local.stdout).not.toContain("inside .git");
  });

  test("'.' from the current directory, a relative ./dir, ../dir, and a bare name that is a directory here", async () => {
    const dot = await runTsexec(["show", "."], { cwd: work.dir });
    expect(dot.stderr).toBe("");
    expect(dot.stdout.split("\n")[0]).toBe(`. (local directory ${work.dir}):`);
    const listed = body(dot.stdout);
    expect(listed).toContain("deploy → bin/deploy.ts");
    for (const [typed, cwd] of [["./tools", base], ["tools", base], ["../tools", outside]] as const) {
      const out = await runTsexec(["show", typed], { cwd });
      expect(out.stderr).toBe("");
      expect(out.stdout).toBe(`${typed} (local directory ${work.dir}):\n${listed}`);
    }
  });

  test("#app narrows to the script bin maps it to, #path to a script or directory", async () => {
    const app = await runTsexec(["show", ".#deploy"], { cwd: work.dir });
    expect(app.stderr).toBe("");
    expect(app.stdout).toBe(`.#deploy (local directory ${work.dir}):\n  bin/deploy.ts  Deploys a release.\n`);
    const dir = await runTsexec(["show", "./tools#util"], { cwd: base });
    expect(dir.stdout).toBe(`./tools#util (local directory ${work.dir}):\n  util/report.ts  Prints a report.\n`);
    // A fragment through a link out of the directory lists nothing from outside.
    const out = await runTsexec(["show", "./tools#out/secret.ts"], { cwd: base });
    expect(out.code).toBe(1);
    expect(out.stdout).toBe("");
    expect(out.stderr).toBe(
      "error: './tools' has nothing to show at 'out/secret.ts': no app of that name in its package.json bin and no script at that path: run tsexec show ./tools to see what it has\n",
    );
  });

  test("nothing is written into the directory (the listing and every mtime are the same after)", async () => {
    const before = snapshot(work.dir);
    for (const args of [["show", "."], ["show", ".#lint"], ["show", "./util/report.ts"]]) {
      expect((await runTsexec(args, { cwd: work.dir })).code).toBe(0);
    }
    expect(snapshot(work.dir)).toEqual(before);
  });

  test("a package.json or tsexec.lock linked out of the directory is not read", async () => {
    const elsewhere = tempDir("show-local-elsewhere-");
    writeFileSync(join(elsewhere, "package.json"), JSON.stringify({ name: "stolen", bin: { stolen: "stolen.ts" } }));
    writeFileSync(join(elsewhere, "tsexec.lock"), "{}");
    const dir = tempDir("show-local-linked-");
    writeFileSync(join(dir, "tool.ts"), `export const inputs = { data: "git+file:///nowhere/data.git?ref=v1" };\n${script("A tool.")}`);
    symlinkSync(join(elsewhere, "package.json"), join(dir, "package.json"));
    symlinkSync(join(elsewhere, "tsexec.lock"), join(dir, "tsexec.lock"));
    const out = await runTsexec(["show", "."], { cwd: dir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(
      [
        `. (local directory ${dir}):`,
        "  apps: (not read: package.json is a symbolic link out of the directory)",
        "  tool.ts  A tool.",
        "  inputs:",
        "    tool.ts: data  git+file:///nowhere/data.git?ref=v1  lock not read (a symbolic link out of the directory)",
        "",
      ].join("\n"),
    );
    expect((await runTsexec(["show", ".#stolen"], { cwd: dir })).stdout).toBe("");
  });

  test("a package.json or tsexec.lock that is a FIFO is noted, not read (the read would never end)", async () => {
    const dir = tempDir("show-local-fifo-");
    spawnSync("mkfifo", [join(dir, "package.json"), join(dir, "tsexec.lock")]);
    writeFileSync(join(dir, "tool.ts"), `export const inputs = { data: "git+file:///nowhere/data.git?ref=v1" };\n${script("A tool.")}`);
    const out = await runTsexec(["show", "."], { cwd: dir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(
      [
        `. (local directory ${dir}):`,
        "  apps: (not read: package.json is not a regular file)",
        "  tool.ts  A tool.",
        "  inputs:",
        "    tool.ts: data  git+file:///nowhere/data.git?ref=v1  lock not read (not a regular file)",
        "",
      ].join("\n"),
    );
  });

  test("a package.json or tsexec.lock over 1 MiB is noted, not read (show's limit per file)", async () => {
    const dir = tempDir("show-local-huge-");
    const padding = " ".repeat(1024 * 1024 + 1);
    writeFileSync(join(dir, "package.json"), `{"name": "huge", "bin": {"huge": "tool.ts"}}${padding}`);
    writeFileSync(join(dir, "tsexec.lock"), `{}${padding}`);
    writeFileSync(join(dir, "tool.ts"), `export const inputs = { data: "git+file:///nowhere/data.git?ref=v1" };\n${script("A tool.")}`);
    const out = await runTsexec(["show", "."], { cwd: dir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(
      [
        `. (local directory ${dir}):`,
        "  apps: (not read: package.json is 1.0 MiB, over show's limit of 1 MiB per file)",
        "  tool.ts  A tool.",
        "  inputs:",
        "    tool.ts: data  git+file:///nowhere/data.git?ref=v1  lock not read (1.0 MiB, over show's limit of 1 MiB per file)",
        "",
      ].join("\n"),
    );
  });
});

describe("tsexec show <local file>", () => {
  test("lists that one script", async () => {
    const out = await runTsexec(["show", "./lint.ts"], { cwd: work.dir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(`./lint.ts (local file ${join(work.dir, "lint.ts")}):\n  lint.ts  Lints the tree.\n`);
  });

  test("a symbolic link leading out of its directory is refused, naming it; one that stays inside is followed", async () => {
    for (const typed of ["./link.ts", "./out", "./out/", "out//"]) {
      const out = await runTsexec(["show", typed], { cwd: work.dir });
      expect(out.code).toBe(1);
      expect(out.stdout).toBe("");
      expect(out.stderr).toMatch(new RegExp(`^error: '${typed.replace(".", "\\.")}' is a symbolic link out of the directory that holds it \\(to .*outside.*\\): show follows no link out; name the target itself if you mean it\\n$`));
    }
    const inside = tempDir("show-local-link-");
    writeFileSync(join(inside, "real.ts"), script("The real one."));
    symlinkSync("real.ts", join(inside, "alias.ts"));
    const out = await runTsexec(["show", "alias.ts"], { cwd: inside });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(`alias.ts (local file ${join(inside, "real.ts")}):\n  real.ts  The real one.\n`);
  });
});

describe("tsexec show: errors on local paths", () => {
  test("a missing path, a file of another kind, a directory or file with nothing to show: one error line each", async () => {
    const dir = tempDir("show-local-errors-");
    mkdirSync(join(dir, "empty"));
    writeFileSync(join(dir, "empty", "helper.ts"), "export const x = 1;\n");
    mkdirSync(join(dir, "empty", "node_modules", "dep"), { recursive: true });
    writeFileSync(join(dir, "empty", "node_modules", "dep", "tool.ts"), script("hidden in node_modules"));
    writeFileSync(join(dir, "helper.ts"), "export const x = 1;\n");
    writeFileSync(join(dir, "README.md"), "# not a script\n");
    execFileSync("mkfifo", [join(dir, "pipe")]);
    const cases: [string, string][] = [
      ["./nothere", "error: no file or directory './nothere': give show a directory, a script file, or a reference (github:…, git+https://…)\n"],
      ["gone.ts", "error: no file or directory 'gone.ts': give show a directory, a script file, or a reference (github:…, git+https://…)\n"],
      ["./pipe", "error: './pipe' is a named pipe, not a directory or a script file: show lists a directory or a script file\n"],
      ["README.md", "error: 'README.md' is not a script file: show lists .ts, .mts, .cts, .tsx, .js, .mjs and .cjs files, or a directory of them\n"],
      [
        "./empty",
        "error: './empty' has nothing to show: no module under './empty' default-exports a function of { args, lib } (node_modules and dot directories are not searched): name a script, or write one (tsexec init makes a project with an example)\n",
      ],
      [
        "helper.ts",
        "error: 'helper.ts' has nothing to show: it does not default-export a function of { args, lib }: name a script, or write one (tsexec init makes a project with an example)\n",
      ],
    ];
    for (const [typed, message] of cases) {
      const out = await runTsexec(["show", typed], { cwd: dir });
      expect(out.stderr).toBe(message);
      expect(out.stdout).toBe("");
      expect(out.code).toBe(1);
    }
  });

  test("a bare name that is no file here is a registry name, as for run; the error offers only what works", async () => {
    const cwd = tempDir("show-local-cwd-");
    const env = { XDG_CONFIG_HOME: tempDir("show-local-config-") };
    const show = await runTsexec(["show", "examples"], { cwd, env });
    expect(show.stderr).toBe(
      "error: cannot find 'examples': no such file or directory, and 'examples' is not a registry name (the registry is empty; add one with tsexec registry add examples <reference>)\n",
    );
    const run = await runTsexec(["examples"], { cwd, env });
    expect(run.stderr).toBe(
      "error: cannot find script 'examples': no such file or directory, and 'examples' is not a registry name (the registry is empty; add one with tsexec registry add examples <reference>)\n",
    );
  });

  test("a directory named like a registry entry is listed, with one warning naming the entry", async () => {
    const config = tempDir("show-local-config-");
    mkdirSync(join(config, "tsexec"));
    writeFileSync(join(config, "tsexec", "registry.json"), JSON.stringify({ entries: { tools: url }, version: 1 }));
    const out = await runTsexec(["show", "tools"], { cwd: base, env: { XDG_CONFIG_HOME: config } });
    expect(out.stderr).toBe(
      `tsexec: warning: 'tools' is a directory here and also registry entry 'tools' (${url}): listing the directory; write ./tools to say so, or rename one of them\n`,
    );
    expect(out.stdout.split("\n")[0]).toBe(`tools (local directory ${work.dir}):`);
  });
});

/** Every entry under `dir` (links not followed) with its kind, size and times. */
function snapshot(dir: string): Record<string, string> {
  const seen: Record<string, string> = {};
  const visit = (path: string) => {
    const stat = lstatSync(path);
    seen[path] = `${stat.mode} ${stat.size} ${stat.mtimeMs} ${stat.ctimeMs}`;
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return seen;
}
