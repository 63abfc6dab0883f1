/**
 * References and fetched paths that try to lead out of the checkout, and
 * inputs that used to fail with a stranger's message (issue 13, item 7):
 * each is one `error:` line naming the thing, or works.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";

let url: string;
let commit: string;
let outside: string;
let scripts: string;

const prints = (text: string) => `export default ({ lib }: any) => lib.io(() => console.log(${JSON.stringify(text)}));\n`;

beforeAll(() => {
  outside = tempDir("ref-outside-");
  writeFileSync(join(outside, "default.ts"), prints("OUTSIDE"));
  writeFileSync(join(outside, "x.ts"), prints("OUTSIDE"));
  const work = WorkRepo.create();
  commit = work.commit("hostile", {
    "outdir": { symlink: outside },
    "inner/default.ts": { symlink: join(outside, "default.ts") },
    "100%.ts": prints("hundred"),
    "ok.ts": prints("ok"),
    "static.ts": `import run from "./outdir/x.ts";\nexport default run;\n`,
    "inside.ts": `import run from "./ok.ts";\nexport default run;\n`,
  });
  url = pathToFileURL(work.publish(tempDir("ref-root-"), "hostile")).href;
  scripts = writeTree({
    "import.ts": `export default ({ args, lib }: any) => lib.bind(lib.builtins.fetchgit({ url: args[1], rev: args[2] }), (dir: string) => lib.bind(lib.import(dir + "/" + args[3]), (m: any) => m({ args: [], lib })));\n`,
    "path.ts": `export default ({ args, lib }: any) => lib.map(console.log, lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n`,
  });
});

async function oneError(args: string[], options: Parameters<typeof runTsexec>[1] = {}): Promise<string> {
  const out = await runTsexec(args, options);
  expect(out.stdout).toBe("");
  expect(out.code).toBe(1);
  const lines = out.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!;
}

describe("nothing outside the checkout is listed, read or run", () => {
  test.each([
    ["?dir= a symlink to outside (run)", () => [`git+${url}?rev=${commit}&dir=outdir`], /the dir 'outdir' leads out of the checkout of .* at [0-9a-f]{40} \(a symbolic link to .*ref-outside-/],
    ["?dir= a symlink to outside (show)", () => ["show", `git+${url}?rev=${commit}&dir=outdir`], /the dir 'outdir' leads out of the checkout/],
    ["#path through a symlinked directory", () => [`git+${url}?rev=${commit}#outdir/x.ts`], /the path 'outdir\/x\.ts' leads out of the checkout/],
    ["#path a directory whose default.ts is a link out", () => [`git+${url}?rev=${commit}#inner`], /the path 'default\.ts' leads out of the checkout/],
    ["lib.import of a fetched path through a link", () => [join(scripts, "import.ts"), url, commit, "outdir/x.ts"], /lib\.import: '.*outdir\/x\.ts' leads out of the fetched checkout .* \(a symbolic link to .*ref-outside-.*x\.ts\); refusing to load it/],
    ["lib.import of a fetched directory that is a link", () => [join(scripts, "import.ts"), url, commit, "outdir"], /lib\.import: .* leads out of the fetched checkout/],
  ])("%s", async (_what, args, message) => {
    expect(await oneError(args())).toMatch(message);
  });

  test("a static import through a committed link out of the checkout is refused before anything runs (issue 19)", async () => {
    const line = await oneError([`git+${url}?rev=${commit}#static.ts`]);
    expect(line).toMatch(/^error: cannot import '\.\/outdir\/x\.ts' from .*static\.ts:1:\d+: it leads out of the fetched checkout .* \(a symbolic link to .*ref-outside-.*x\.ts\); refusing to load it$/);
  });

  test("a static import inside the checkout still works", async () => {
    const out = await runTsexec([`git+${url}?rev=${commit}#inside.ts`]);
    expect([out.code, out.stdout, out.stderr]).toEqual([0, "ok\n", ""]);
  });

  test("lib.import inside the checkout still works", async () => {
    const out = await runTsexec([join(scripts, "import.ts"), url, commit, "ok.ts"]);
    expect([out.code, out.stdout, out.stderr]).toEqual([0, "ok\n", ""]);
  });
});

describe("inputs that work or say why", () => {
  test("#100%25.ts runs the file 100%.ts; #100%.ts names the bad escape", async () => {
    expect((await runTsexec([`git+${url}?rev=${commit}#100%25.ts`])).stdout).toBe("hundred\n");
    expect(await oneError([`git+${url}?rev=${commit}#100%.ts`])).toMatch(/the path '#100%\.ts' in reference .* has a '%' that starts no valid escape: write a literal % as %25/);
  });

  test("a parameter given twice, or rev with ref, is an error", async () => {
    expect(await oneError([`git+${url}?rev=${commit}&rev=${"0".repeat(40)}#ok.ts`])).toMatch(/gives 'rev' twice/);
    expect(await oneError([`git+${url}?rev=${commit}&ref=main#ok.ts`])).toMatch(/gives both rev and ref/);
  });

  test("git+FILE:// and FILE:// work as file://", async () => {
    const upper = url.replace(/^file:/, "FILE:");
    expect((await runTsexec([`git+${upper}?rev=${commit}#ok.ts`])).stdout).toBe("ok\n");
    const out = await runTsexec([join(scripts, "path.ts"), upper, commit]);
    expect([out.code, out.stderr]).toEqual([0, ""]);
  });

  test("http://[::1 is an invalid URL, not a remote helper", async () => {
    expect(await oneError([join(scripts, "path.ts"), "http://[::1", commit])).toMatch(/refusing URL 'http:\/\/\[::1': it is not a valid URL/);
    expect(await oneError([join(scripts, "path.ts"), "ext::sh -c touch% /tmp/x", commit])).toMatch(/helpers \(ext::, fd:: \.\.\.\) can run commands/);
  });

  test("a script whose name holds a backslash runs", async () => {
    const dir = tempDir("bs-");
    writeFileSync(join(dir, "a\\b.ts"), prints("backslash"));
    expect((await runTsexec([join(dir, "a\\b.ts")])).stdout).toBe("backslash\n");
  });

  test("--cache-dir /proc/self: one error line naming the directory, no hang", async () => {
    const message = await oneError(["--cache-dir", "/proc/self", `git+${url}?rev=${commit}#ok.ts`], { timeoutMs: 20_000 });
    expect(message).toMatch(/cannot create the cache directory \/proc\/self\/git .*use a writable --cache-dir or TSEXEC_CACHE_DIR/);
  });

  test("a refused .gitmodules URL names the submodule and its repository", async () => {
    const work = WorkRepo.create();
    work.stage({ "a.txt": "a\n" });
    work.addSubmodule("mod", "ext::sh -c touch% /tmp/pwned", commit);
    const parent = work.commitIndex("with a hostile submodule");
    const parentUrl = pathToFileURL(work.publish(tempDir("ref-root-"), "parent")).href;
    expect(await oneError([join(scripts, "path.ts"), parentUrl, parent])).toBe(
      `error: fetchgit: submodule 'mod' of ${parentUrl} at ${parent}: refusing URL 'ext::sh -c touch% /tmp/pwned': git's '<transport>::<address>' helpers (ext::, fd:: ...) can run commands; use a https, ssh, git or file URL (its url is set in that commit's .gitmodules)`,
    );
  });
});
