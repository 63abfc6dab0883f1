/**
 * Nix's everyday verbs, end to end with the real binary: profiles (install,
 * upgrade, rollback), shell, build, gc, init --template. Git fixtures over file://.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runCommand, runTsexec, startTsexec, tempDir, writeTree } from "../helpers.js";
import { publish, type Published } from "../flakes/fixtures.js";

let tools: Published;
const helloV = (v: number) => `export default ({ args, lib }: any) => lib.io(() => console.log("hello v${v} " + JSON.stringify(args.slice(1))));\n`;

beforeAll(() => {
  tools = publish(tempDir("verbs-root-"), "tools", {
    "hello.ts": helloV(1),
    "bye.ts": `export default ({ lib }: any) => lib.io(() => console.log("bye"));\n`,
    "package.json": JSON.stringify({
      name: "tools",
      bin: { hello: "hello.ts", bye: "bye.ts" },
      tsexec: { templates: { basic: { path: "tpl/basic", description: "a basic project", welcomeText: "Next: ./main.ts" } } },
    }),
    "tpl/basic/main.ts": "console.log('template main');\n",
    "tpl/basic/sub/notes.txt": "notes\n",
    "templates/other/README.md": "other template\n",
  });
});

const ref = (app: string) => `git+${tools.url}?ref=main#${app}`;

function env() {
  const data = tempDir("verbs-data-");
  const cacheDir = tempDir("verbs-cache-");
  return { cacheDir, data, env: { XDG_DATA_HOME: data }, bin: join(data, "tsexec", "profile", "bin") };
}

/** Every mark of the cache set `days` into the past: what gc sees as unused for that long. */
function age(dir: string, days: number): void {
  const when = Date.now() / 1000 - days * 86400;
  const walk = (path: string, depth: number) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if (depth > 0) utimesSync(path, when, when);
    if (stat.isDirectory() && depth < 4) for (const name of readdirSync(path)) walk(join(path, name), depth + 1);
  };
  walk(dir, 0);
}

describe("tsexec profile", () => {
  test("install pins the app, its launcher runs offline; upgrade re-pins; rollback restores the previous launcher", async () => {
    const e = env();
    const commit1 = tools.commits.at(-1)!;
    const install = await runTsexec(["profile", "install", ref("hello")], { cacheDir: e.cacheDir, env: e.env });
    expect(install.stderr).toBe("");
    expect(install.stdout).toContain(`installed hello: ${ref("hello")} at ${commit1} (generation 1)`);
    expect((await runTsexec(["profile", "path"], { env: e.env })).stdout).toBe(`${e.bin}\n`);
    const hide = tools.hide(); // no repository: the launcher runs from the cache alone
    try {
      const first = await runCommand(join(e.bin, "hello"), ["a"], { cacheDir: e.cacheDir });
      expect(first.stderr).toBe("");
      expect(first.stdout).toBe(`hello v1 ["a"]\n`);
    } finally {
      hide();
    }
    const list = await runTsexec(["profile", "list"], { env: e.env });
    expect(list.stdout).toMatch(new RegExp(`^hello\\t${ref("hello").replace(/[?.+]/g, "\\$&")}\\t${commit1}\\t\\d{4}-\\d\\d-\\d\\d\\n$`));

    const commit2 = tools.advance({ "hello.ts": helloV(2) });
    const upgrade = await runTsexec(["profile", "upgrade"], { cacheDir: e.cacheDir, env: e.env });
    expect(upgrade.stdout).toContain(`hello: ${commit1} → ${commit2}`);
    expect((await runCommand(join(e.bin, "hello"), [], { cacheDir: e.cacheDir })).stdout).toBe("hello v2 []\n");

    const rollback = await runTsexec(["profile", "rollback"], { env: e.env });
    expect(rollback.stdout).toBe("switched from generation 2 to 1 (install hello)\n");
    expect((await runCommand(join(e.bin, "hello"), [], { cacheDir: e.cacheDir })).stdout).toBe("hello v1 []\n");
    const history = await runTsexec(["profile", "history"], { env: e.env });
    expect(history.stdout).toMatch(/^\* 1\t.*\tinstall hello\thello@[0-9a-f]{12}\n  2\t.*\tupgrade hello\t/);
    // `current` is a symbolic link, switched whole.
    expect(lstatSync(join(e.data, "tsexec", "profile", "current")).isSymbolicLink()).toBe(true);

    await runTsexec(["profile", "install", ref("bye"), "--as", "ciao"], { cacheDir: e.cacheDir, env: e.env });
    expect((await runCommand(join(e.bin, "ciao"), [], { cacheDir: e.cacheDir })).stdout).toBe("bye\n");
    const removed = await runTsexec(["profile", "remove", "ciao"], { env: e.env });
    expect(removed.stdout).toMatch(/^removed ciao \(generation 4\)\n$/);
    expect(existsSync(join(e.bin, "ciao"))).toBe(false);
    const unknown = await runTsexec(["profile", "remove", "nope"], { env: e.env });
    expect(unknown.stderr).toBe("error: the profile has no app 'nope' (it has hello): see tsexec profile list\n");
    expect(unknown.code).toBe(1);
  });

  test("a local path cannot be installed: it has no commit", async () => {
    const e = env();
    const out = await runTsexec(["profile", "install", "examples/hello.ts"], { env: e.env });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: profile install takes a git reference .* and 'examples\/hello.ts' is a local path: it has no commit to pin\n$/);
  });
});

describe("tsexec shell", () => {
  test("-c runs the command with the apps first on PATH, pinned; its exit code is ours", async () => {
    const e = env();
    const out = await runTsexec(["shell", ref("hello"), ref("bye"), "-c", "sh", "-c", "hello x; bye; exit 7"], { cacheDir: e.cacheDir });
    expect(out.stdout).toMatch(/^hello v\d \["x"\]\nbye\n$/);
    expect(out.code).toBe(7);
    // Nothing is left behind: the launchers lived in a temporary directory, the gc root with the shell.
    expect(readdirSync(join(e.cacheDir, "gcroots"))).toEqual([]);
  });
});

const packages = `import lib from "tsexec/unsafe-lib";
export default {
  greet: lib.runCommand("greet", {}, 'mkdir -p "$out/bin"; printf "#!/bin/sh\\\\necho greet \\\\"\\\\$@\\\\"\\\\n" > "$out/bin/greet"; chmod +x "$out/bin/greet"'),
  note: lib.toFile("note.txt", "a note\\n"),
};
`;

describe("tsexec build", () => {
  test("builds the selected derivation, prints its path, makes a result link gc keeps; REF#NAME runs $out/bin/NAME", async () => {
    const e = env();
    const dir = writeTree({ "pkgs.ts": packages });
    const built = await runTsexec(["build", "./pkgs.ts#greet"], { cwd: dir, cacheDir: e.cacheDir });
    expect(built.stderr).toBe("");
    const out = built.stdout.trim();
    expect(out).toMatch(new RegExp(`^${e.cacheDir}/store/[0-9a-z]+-greet$`));
    expect(readFileSync(join(dir, "result", "bin", "greet"), "utf8")).toContain("echo greet");
    const note = await runTsexec(["build", "./pkgs.ts#note", "--out-link", "note"], { cwd: dir, cacheDir: e.cacheDir });
    expect(readFileSync(join(dir, "note"), "utf8")).toBe("a note\n");
    expect(note.code).toBe(0);

    const ran = await runTsexec(["./pkgs.ts#greet", "a", "b"], { cwd: dir, cacheDir: e.cacheDir });
    expect(ran.stdout).toBe("greet a b\n");

    age(e.cacheDir, 60);
    const gc = await runTsexec(["gc"], { cacheDir: e.cacheDir, env: e.env });
    expect(gc.code).toBe(0);
    expect(existsSync(join(out, "bin", "greet"))).toBe(true);
    // The link is the root: without it, the output goes.
    rmSync(join(dir, "result"));
    const again = await runTsexec(["gc"], { cacheDir: e.cacheDir, env: e.env });
    expect(again.stdout).toContain(`removed output ${out} `);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(readFileSync(join(dir, "note"), "utf8") ? join(dir, "note") : "")).toBe(true);
  });

  test("a script that yields no derivation is one error", async () => {
    const dir = writeTree({ "s.ts": `export default 42;\n` });
    const out = await runTsexec(["build", "./s.ts"], { cwd: dir });
    expect(out.stderr).toBe("error: ./s.ts does not yield a derivation (it yields a number (42)): its default export must be a derivation, an object of derivations, or a function whose IO yields one\n");
    expect(out.code).toBe(1);
  });
});

describe("tsexec gc", () => {
  test("removes what nothing needs, keeps what a profile holds and what was used recently; --dry-run removes nothing", async () => {
    const e = env();
    const dir = writeTree({ "old.ts": helloV(0), "new.ts": helloV(9) });
    await runTsexec([join(dir, "old.ts")], { cacheDir: e.cacheDir });
    await runTsexec(["profile", "install", ref("hello")], { cacheDir: e.cacheDir, env: e.env });
    await runTsexec([`git+${tools.url}?rev=${tools.commits[0]}#bye.ts`], { cacheDir: e.cacheDir });
    age(e.cacheDir, 40);
    await runTsexec([join(dir, "new.ts")], { cacheDir: e.cacheDir }); // used now
    const checkouts = () => readdirSync(join(e.cacheDir, "git", readdirSync(join(e.cacheDir, "git"))[0]!, "checkouts")).filter((n) => !n.endsWith(".json"));
    const profileCommit = JSON.parse(readFileSync(join(e.data, "tsexec", "profile", "current", "generation.json"), "utf8")).apps[0].commit;
    const before = checkouts();

    const dry = await runTsexec(["gc", "--dry-run"], { cacheDir: e.cacheDir, env: e.env });
    expect(dry.stdout).toMatch(/would remove script .*\.json \(\d+ B\)\n/);
    expect(dry.stdout).toMatch(/would free .* in \d+ entries; kept \d+\n$/);
    expect(checkouts()).toEqual(before);

    const gc = await runTsexec(["gc"], { cacheDir: e.cacheDir, env: e.env });
    expect(gc.stderr).toBe("");
    expect(gc.stdout).toMatch(/\nfreed .* in \d+ entries; kept \d+\n$/);
    // The profile's checkout stays, and its app still runs offline; the unpinned old one went.
    expect(checkouts()).toEqual(before.includes(profileCommit) ? [profileCommit] : []);
    const hide = tools.hide();
    try {
      expect((await runCommand(join(e.bin, "hello"), ["z"], { cacheDir: e.cacheDir })).stdout).toMatch(/^hello v\d \["z"\]\n$/);
    } finally {
      hide();
    }
    // Recently used: kept (a warm run finds its manifest); unused: gone, and a rerun transpiles again.
    const scripts = readdirSync(join(e.cacheDir, "scripts"));
    expect(scripts.some((n) => n.endsWith("-new.mjs"))).toBe(true);
    expect(scripts.some((n) => n.endsWith("-old.mjs"))).toBe(false);
    expect((await runTsexec([join(dir, "old.ts")], { cacheDir: e.cacheDir })).stdout).toBe("hello v0 []\n");
    expect(existsSync(join(e.cacheDir, ".trash"))).toBe(true);
    expect(readdirSync(join(e.cacheDir, ".trash"))).toEqual([]);
  });

  test("an output a running build reads is kept while it builds, however old", async () => {
    const e = env();
    const dir = writeTree({
      "slow.ts": `import { readFileSync } from "node:fs";
export default ({ lib }: any) => {
  const input = lib.toFile("input.txt", "input\\n");
  const slow = lib.runCommand("slow", { input }, 'echo started >&2; sleep 3; cat "$input" > "$out"');
  return lib.map((out: string) => console.log(readFileSync(out, "utf8").trim()), lib.build(slow));
};
`,
      "input.ts": `export default ({ lib }: any) => lib.map((p: string) => console.log(p), lib.build(lib.toFile("input.txt", "input\\n")));\n`,
    });
    const input = (await runTsexec([join(dir, "input.ts")], { cacheDir: e.cacheDir })).stdout.trim();
    age(e.cacheDir, 60);
    const running = startTsexec(["-v", join(dir, "slow.ts")], e.cacheDir);
    await running.seen(/building [0-9a-z]+-slow/);
    // The marks a run sets are older than gc's cut-off with --max-age 0: only the build's record keeps the input.
    const gc = await runTsexec(["gc", "--max-age", "0"], { cacheDir: e.cacheDir, env: e.env });
    expect(gc.code).toBe(0);
    expect(gc.stdout).not.toContain(input);
    expect(existsSync(input)).toBe(true);
    const done = await running.done;
    expect(done.stderr).not.toMatch(/error/);
    expect(done.code).toBe(0);
    expect(done.stdout).toBe("input\n");
  });
});

describe("tsexec init --template", () => {
  test("copies the template, prints its next steps, and never overwrites a file", async () => {
    const dest = tempDir("verbs-init-");
    const out = await runTsexec(["init", dest, "--template", `git+${tools.url}?ref=main#basic`]);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`Created 2 files in ${dest} from template 'basic' of git+${tools.url}?ref=main (commit ${tools.commits.at(-1)}): a basic project.\nNext: ./main.ts\n`);
    expect(readFileSync(join(dest, "sub", "notes.txt"), "utf8")).toBe("notes\n");
    writeFileSync(join(dest, "main.ts"), "mine\n");
    rmSync(join(dest, "sub"), { recursive: true });
    const again = await runTsexec(["init", dest, "--template", `git+${tools.url}?ref=main#basic`]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error: the template would overwrite .*\/main.ts: nothing was written; remove them, or init another directory\n$/);
    expect(readFileSync(join(dest, "main.ts"), "utf8")).toBe("mine\n");
    expect(existsSync(join(dest, "sub"))).toBe(false);
    // templates/NAME/ without a package.json entry, and an unknown name listing what there is.
    const other = tempDir("verbs-init-");
    expect((await runTsexec(["init", other, "--template", `git+${tools.url}?ref=main#other`])).code).toBe(0);
    expect(readFileSync(join(other, "README.md"), "utf8")).toBe("other template\n");
    const unknown = await runTsexec(["init", tempDir(), "--template", `git+${tools.url}?ref=main#nope`]);
    expect(unknown.stderr).toMatch(/error: .* has no template 'nope': it offers basic, other\n$/);
  });
});
