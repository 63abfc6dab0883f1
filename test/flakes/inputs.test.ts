/** Declared inputs and tsexec.lock, end to end: the real tsexec on real git repositories over file://. */
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { removeTree } from "../../src/base/files.js";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir } from "../helpers.js";
import { inputsScript, makeReadOnly, project, readLockJson, readLockText, repos, writeLockJson, type Repos } from "./fixtures.js";

let r: Repos;
beforeAll(() => {
  r = repos();
});

const toolsAndData = () => `{
  tools: "git+${r.tools.url}?ref=main",
  data: { url: "${r.data.url}", ref: "v1", submodules: false },
}`;

describe("inputs", () => {
  test("fetched before the function runs and passed as { path, rev, … }; ${input} is its path; lib.import(input, file) loads from it", async () => {
    const dir = project({
      "main.ts": `import { readFileSync } from "node:fs";
import { defineScript } from "tsexec";
export const inputs = ${toolsAndData()};
export default defineScript(inputs, ({ inputs, lib }) =>
  lib.bind(lib.import(inputs.tools, "lib.ts"), (m: any) =>
    lib.io(() => console.log(JSON.stringify({
      greet: m.greet("you"),
      tools: inputs.tools.rev, data: inputs.data.rev, ref: inputs.data.ref, url: inputs.tools.url,
      text: readFileSync(\`\${inputs.data}/data.txt\`, "utf8"),
      hash: /^sha256-/.test(inputs.tools.hash),
      frozen: Object.isFrozen(inputs) && Object.isFrozen(inputs.tools),
    })))));
`,
    });
    const out = await runTsexec([join(dir, "main.ts")]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      greet: "hello you",
      tools: r.tools.commits[0],
      data: r.data.commits[0],
      ref: "v1",
      url: r.tools.url,
      text: "data one\n",
      hash: true,
      frozen: true,
    });
    // One line says the lock was written; no unpinned warnings.
    expect(out.stderr).toBe(`tsexec: locked main.ts's inputs tools at ${r.tools.commits[0]}, data at ${r.data.commits[0]}: wrote ${join(dir, "tsexec.lock")}\n`);
    const lock = readLockJson(dir);
    expect(lock.version).toBe(1);
    expect(lock.inputs["main.ts"].tools).toMatchObject({ source: `git+${r.tools.url}?ref=main`, url: r.tools.url, ref: "main", submodules: true, rev: r.tools.commits[0] });
    expect(lock.inputs["main.ts"].data).toMatchObject({ source: r.data.url, url: r.data.url, ref: "v1", submodules: false, rev: r.data.commits[0] });
    expect(lock.inputs["main.ts"].data.hash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
    expect(new Date(lock.inputs["main.ts"].tools.lockedAt).toISOString()).toBe(lock.inputs["main.ts"].tools.lockedAt);
  });

  test("lib.import(input, path) may not leave the checkout", async () => {
    const dir = project({
      "escape.ts": `import { defineScript } from "tsexec";
export const inputs = { tools: "git+${r.tools.url}?ref=main" };
export default defineScript(inputs, ({ inputs, lib }) => lib.import(inputs.tools, "../../../../etc/passwd"));
`,
    });
    const out = await runTsexec([join(dir, "escape.ts")]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("error: lib.import: '../../../../etc/passwd' leads out of ");
  });

  test("dir: the input's path is that subdirectory of the checkout (?dir= in the string form), which it may not leave", async () => {
    const dir = project({
      "main.ts": `import { defineScript } from "tsexec";
export const inputs = { a: { url: "${r.tools.url}", ref: "main", dir: "scripts" }, b: "git+${r.tools.url}?ref=main&dir=scripts" };
export default defineScript(inputs, ({ inputs, lib }) => lib.io(() => console.log(inputs.a.path.endsWith("/scripts"), inputs.b.path === inputs.a.path)));
`,
      "escape.ts": inputsScript(`{ a: { url: "${r.tools.url}", ref: "main", dir: "../.." } }`),
    });
    expect((await runTsexec([join(dir, "main.ts")])).stdout).toBe("true true\n");
    const escape = await runTsexec([join(dir, "escape.ts")]);
    expect(escape.stderr).toMatch(/^error: input 'a' of escape.ts .*: dir '..\/..' escapes the checkout\n$/);
  });

  test("a JavaScript script's inputs are read too", async () => {
    const dir = project({
      "main.mjs": `export const inputs = { data: "git+${r.data.url}?ref=v1" };\nexport default ({ inputs, lib }) => lib.io(() => console.log(inputs.data.rev));\n`,
    });
    const out = await runTsexec([join(dir, "main.mjs")]);
    expect(out.stdout).toBe(`${r.data.commits[0]}\n`);
    expect(readLockJson(dir).inputs["main.mjs"].data.rev).toBe(r.data.commits[0]);
  });
});

describe("tsexec.lock", () => {
  test("honoured after the branch moved: same commit, same bytes, no network (the repository gone), no warning; --offline too", async () => {
    const own = repos();
    const dir = project({ "main.ts": inputsScript(`{ tools: "git+${own.tools.url}?ref=main" }`) });
    const cacheDir = tempDir("flakes-cache-");
    const first = await runTsexec([join(dir, "main.ts")], { cacheDir });
    expect(first.code).toBe(0);
    const lockBytes = readLockText(dir);
    own.tools.advance();
    const restore = own.tools.hide();
    try {
      for (const args of [[join(dir, "main.ts")], ["--offline", join(dir, "main.ts")]]) {
        const again = await runTsexec(args, { cacheDir });
        expect(again.stderr).toBe("");
        expect(JSON.parse(again.stdout).tools.rev).toBe(own.tools.commits[0]);
        expect(again.code).toBe(0);
      }
    } finally {
      restore();
    }
    expect(readLockText(dir)).toBe(lockBytes);
    // A cold cache fetches the locked commit, not the branch's new one.
    const cold = await runTsexec([join(dir, "main.ts")]);
    expect(JSON.parse(cold.stdout).tools.rev).toBe(own.tools.commits[0]);
    expect(cold.stderr).toBe("");
  });

  test("the warm-path memo: a checkout removed from the cache is fetched again at the locked commit", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`) });
    const cacheDir = tempDir("flakes-cache-");
    const first = await runTsexec([join(dir, "main.ts")], { cacheDir });
    const path = JSON.parse(readFileSync(join(cacheDir, "inputs", readdirSync(join(cacheDir, "inputs"))[0]!), "utf8")).inputs.data.path;
    expect(path).toMatch(new RegExp(`/checkouts/${r.data.commits[0]}$`));
    removeTree(path);
    const again = await runTsexec([join(dir, "main.ts")], { cacheDir });
    expect(again.stderr).toBe("");
    expect(again.stdout).toBe(first.stdout);
    expect(existsSync(path)).toBe(true);
  });

  test("the warm-path memo is a cache file like any other: one naming a directory outside fetchgit's cache is refused with a warning", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`) });
    const cacheDir = tempDir("flakes-cache-");
    const first = await runTsexec([join(dir, "main.ts")], { cacheDir });
    const memoFile = join(cacheDir, "inputs", readdirSync(join(cacheDir, "inputs"))[0]!);
    const memo = JSON.parse(readFileSync(memoFile, "utf8"));
    const elsewhere = tempDir("elsewhere-");
    memo.inputs.data.path = elsewhere;
    writeFileSync(memoFile, JSON.stringify(memo));
    const again = await runTsexec([join(dir, "main.ts")], { cacheDir });
    expect(again.stderr).toBe(`tsexec: warning: the cache file ${memoFile} is damaged (input 'data'): ignored; resolving the inputs from tsexec.lock\n`);
    expect(again.stdout).toBe(first.stdout);
    expect(again.stdout).not.toContain(elsewhere);
  });

  test("a read-only directory: the input warns as an unpinned reference does, and no lock is written", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=main" }`) });
    makeReadOnly(dir);
    try {
      const out = await runTsexec([join(dir, "main.ts")]);
      expect(out.code).toBe(0);
      expect(out.stderr).toMatch(new RegExp(`^tsexec: warning: input 'data' of main.ts \\(.*main.ts:3\\), 'git\\+${r.data.url.replace(/[/.+?]/g, "\\$&")}\\?ref=main', is not locked: it resolved to commit ${r.data.commits[0]}; .* is read-only, so no tsexec.lock was written there .*\\n$`));
      expect(existsSync(join(dir, "tsexec.lock"))).toBe(false);
      // --pinned-only refuses what would run unpinned.
      const refused = await runTsexec(["--pinned-only", join(dir, "main.ts")]);
      expect(refused.stderr).toMatch(/^error: refusing unpinned input 'data' of main.ts .*\(--pinned-only or TSEXEC_PINNED_ONLY\): it is not in a tsexec.lock and .* is read-only/);
      expect(refused.code).toBe(1);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  test("tsexec lock writes every missing entry and prunes entries no script declares; tsexec update moves only the named input, with one fetch", async () => {
    const own = repos();
    const dir = project({
      "a.ts": inputsScript(`{ tools: "git+${own.tools.url}?ref=main", data: "git+${own.data.url}?ref=main", pinned: "git+${own.data.url}?rev=${own.data.commits[0]}" }`),
      "b.ts": inputsScript(`{ data: "git+${own.data.url}?ref=main" }`),
    });
    const cacheDir = tempDir("flakes-cache-");
    const locked = await runTsexec(["lock", join(dir, "a.ts"), join(dir, "b.ts")], { cacheDir });
    expect(locked.stderr).toBe("");
    expect(locked.code).toBe(0);
    expect(locked.stdout).toContain(`a.ts: tools (not locked) → ${own.tools.commits[0]}\n`);
    expect(locked.stdout).toContain(`b.ts: data (not locked) → ${own.data.commits[0]}\n`);
    expect(locked.stdout).toContain(`wrote ${join(dir, "tsexec.lock")}\n`);
    const before = readLockJson(dir);
    expect(Object.keys(before.inputs["a.ts"]).sort()).toEqual(["data", "pinned", "tools"]);
    const again = await runTsexec(["lock", join(dir, "a.ts")], { cacheDir });
    expect(again.stdout).toBe(`${join(dir, "tsexec.lock")} is up to date\n`);

    own.tools.advance();
    own.data.advance();
    const updated = await runTsexec(["--verbose", "update", join(dir, "a.ts"), "tools"], { cacheDir });
    expect(updated.code).toBe(0);
    expect(updated.stdout).toBe(`a.ts: tools ${own.tools.commits[0]} → ${own.tools.commits[1]}\nwrote ${join(dir, "tsexec.lock")}\n`);
    // One round trip to one remote: a single git fetch.
    expect(updated.stderr.split("\n").filter((line) => /^tsexec: git fetch/.test(line))).toHaveLength(1);
    const after = readLockJson(dir);
    expect(after.inputs["a.ts"].tools.rev).toBe(own.tools.commits[1]);
    // Every other entry is byte for byte what it was.
    expect(JSON.stringify(after.inputs["a.ts"].data)).toBe(JSON.stringify(before.inputs["a.ts"].data));
    expect(JSON.stringify(after.inputs["a.ts"].pinned)).toBe(JSON.stringify(before.inputs["a.ts"].pinned));
    expect(JSON.stringify(after.inputs["b.ts"])).toBe(JSON.stringify(before.inputs["b.ts"]));

    // update without names: every input of the script; b.ts no longer declares anything and is gone.
    writeFileSync(join(dir, "b.ts"), `export default ({ lib }: any) => lib.unit(0);\n`);
    const all = await runTsexec(["update", join(dir, "a.ts")], { cacheDir });
    expect(all.stdout).toContain(`a.ts: data ${own.data.commits[0]} → ${own.data.commits[1]}\n`);
    expect(all.stdout).toContain(`a.ts: pinned ${own.data.commits[0]} → ${own.data.commits[0]} (unchanged)\n`);
    expect(all.stdout).toContain(`b.ts: data removed (was ${own.data.commits[0]}): no longer declared\n`);
    const last = readLockJson(dir);
    expect(last.inputs["b.ts"]).toBeUndefined();
    expect(JSON.stringify(last.inputs["a.ts"].pinned)).toBe(JSON.stringify(before.inputs["a.ts"].pinned));
  });

  test("update of one input in a lock of ten: one git fetch, the nine other entries byte-identical", async () => {
    const own = repos();
    const names = Array.from({ length: 10 }, (_, i) => `in${i}`);
    const dir = project({ "ten.ts": inputsScript(`{ ${names.map((n) => `${n}: "git+${own.data.url}?ref=main"`).join(", ")} }`) });
    const cacheDir = tempDir("flakes-cache-");
    expect((await runTsexec(["lock", join(dir, "ten.ts")], { cacheDir })).code).toBe(0);
    const before = readLockJson(dir).inputs["ten.ts"];
    own.data.advance();
    const updated = await runTsexec(["--verbose", "update", join(dir, "ten.ts"), "in7"], { cacheDir });
    expect(updated.stdout).toBe(`ten.ts: in7 ${own.data.commits[0]} → ${own.data.commits[1]}\nwrote ${join(dir, "tsexec.lock")}\n`);
    expect(updated.stderr.split("\n").filter((line) => /^tsexec: git fetch/.test(line))).toHaveLength(1);
    const after = readLockJson(dir).inputs["ten.ts"];
    for (const name of names) if (name !== "in7") expect(JSON.stringify(after[name])).toBe(JSON.stringify(before[name]));
  });

  test("a deleted script's entries and an input no longer declared are removed by lock; --frozen refuses the stale entry first", async () => {
    const pin = `git+${r.data.url}?rev=${r.data.commits[0]}`;
    const dir = project({ "a.ts": inputsScript(`{ one: "${pin}", two: "${pin}" }`), "c.ts": inputsScript(`{ three: "${pin}" }`) });
    expect((await runTsexec(["lock", join(dir, "a.ts"), join(dir, "c.ts")])).code).toBe(0);
    rmSync(join(dir, "c.ts"));
    writeFileSync(join(dir, "a.ts"), inputsScript(`{ one: "${pin}" }`));
    const frozen = await runTsexec(["--frozen", join(dir, "a.ts")]);
    expect(frozen.stderr).toMatch(/^error: refusing to run \(--frozen or TSEXEC_FROZEN\): .*tsexec.lock locks input two of a.ts, which it no longer declares: run tsexec lock a.ts\n$/);
    const locked = await runTsexec(["lock", join(dir, "a.ts")]);
    expect(locked.stdout).toBe(
      `a.ts: two removed (was ${r.data.commits[0]}): no longer declared\nc.ts: three removed (was ${r.data.commits[0]}): no longer declared\nwrote ${join(dir, "tsexec.lock")}\n`,
    );
    expect(Object.keys(readLockJson(dir).inputs)).toEqual(["a.ts"]);
    expect(Object.keys(readLockJson(dir).inputs["a.ts"])).toEqual(["one"]);
    expect((await runTsexec(["--frozen", join(dir, "a.ts")])).code).toBe(0);
  });

  test("the npm section and other scripts' sections survive a run that locks new inputs", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`) });
    const npm = { specifiers: { "picocolors@^1.1.0": "picocolors@1.1.1" }, packages: { "picocolors@1.1.1": { dependencies: {}, integrity: "sha512-AAAA" } } };
    writeLockJson(dir, { version: 1, npm });
    expect((await runTsexec([join(dir, "main.ts")])).code).toBe(0);
    expect(readLockJson(dir).npm).toEqual(npm);
  });

  test("--frozen (and TSEXEC_FROZEN=1) refuse unlocked inputs and changed declarations; run once locked", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`) });
    const refused = await runTsexec(["--frozen", join(dir, "main.ts")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: refusing to run \(--frozen or TSEXEC_FROZEN\): input 'data' of main.ts \(.*main.ts:3\) is not in .*tsexec.lock: run tsexec lock main.ts, and commit the lock\n$/);
    expect(existsSync(join(dir, "tsexec.lock"))).toBe(false);
    expect((await runTsexec(["lock", join(dir, "main.ts")])).code).toBe(0);
    const ok = await runTsexec([join(dir, "main.ts")], { env: { TSEXEC_FROZEN: "1" } });
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const lockBytes = readLockText(dir);
    writeFileSync(join(dir, "main.ts"), inputsScript(`{ data: "git+${r.data.url}?ref=main" }`));
    const changed = await runTsexec([join(dir, "main.ts")], { env: { TSEXEC_FROZEN: "1" } });
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/^error: refusing to run .*input 'data' of main.ts .* was declared differently when locked in .*tsexec.lock/);
    expect(readLockText(dir)).toBe(lockBytes);
    // Without --frozen, the changed declaration is re-resolved and re-locked.
    const relocked = await runTsexec([join(dir, "main.ts")]);
    expect(relocked.code).toBe(0);
    expect(readLockJson(dir).inputs["main.ts"].data.ref).toBe("main");
  });
});

describe("errors: one line, exit 1, the lock left as it was", () => {
  const expectOneError = (out: { code: number | null; stderr: string }, pattern: RegExp) => {
    expect(out.stderr).toMatch(pattern);
    expect(out.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(out.code).toBe(1);
  };

  test("a dynamic inputs export names file:line", async () => {
    const dir = project({
      "dynamic.ts": `const make = () => ({ tools: "github:a/b" });\nexport const inputs = make();\nexport default ({ lib }: any) => lib.unit(0);\n`,
      "computed.ts": `const ref = "main";\nexport const inputs = {\n  tools: \`github:a/b/\${ref}\`,\n};\nexport default ({ lib }: any) => lib.unit(0);\n`,
      "let.ts": `export let inputs = { tools: "github:a/b" };\nexport default ({ lib }: any) => lib.unit(0);\n`,
      "spread.ts": `const more = {};\nexport const inputs = { ...more };\nexport default ({ lib }: any) => lib.unit(0);\n`,
    });
    expectOneError(await runTsexec([join(dir, "dynamic.ts")]), /^error: .*dynamic.ts:2: 'inputs' must be an object literal/);
    expectOneError(await runTsexec([join(dir, "computed.ts")]), /^error: .*computed.ts:3: input 'tools' must be a string literal .*not a computed value/);
    expectOneError(await runTsexec([join(dir, "let.ts")]), /^error: .*let.ts:1: 'inputs' must be declared in the script as `export const inputs/);
    expectOneError(await runTsexec([join(dir, "spread.ts")]), /^error: .*spread.ts:2: 'inputs' may hold only `name: value` entries/);
    expect(existsSync(join(dir, "tsexec.lock"))).toBe(false);
  });

  test("an unknown input field", async () => {
    const dir = project({ "main.ts": inputsScript(`{\n  data: { url: "${r.data.url}", branch: "main" },\n}`) });
    expectOneError(await runTsexec([join(dir, "main.ts")]), /^error: .*main.ts:4: input 'data' has an unknown field 'branch' \(known: url, ref, rev, submodules, dir\)\n$/);
  });

  test("an input ref that does not exist (the lock untouched)", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1", nope: "git+${r.data.url}?ref=no-such-branch" }`) });
    writeLockJson(dir, { version: 1 });
    const before = readLockText(dir);
    expectOneError(await runTsexec([join(dir, "main.ts")]), /^error: input 'nope' of main.ts \(.*main.ts:3\): fetchgit: unknown rev 'no-such-branch' in /);
    expect(readLockText(dir)).toBe(before);
  });

  test("a hash mismatch against the lock", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`) });
    const cacheDir = tempDir("flakes-cache-");
    expect((await runTsexec([join(dir, "main.ts")], { cacheDir })).code).toBe(0);
    const lock = readLockJson(dir);
    const good = lock.inputs["main.ts"].data.hash;
    lock.inputs["main.ts"].data.hash = `sha256-${Buffer.alloc(32, 7).toString("base64")}`;
    writeLockJson(dir, lock);
    const before = readLockText(dir);
    for (const cache of [cacheDir, tempDir("flakes-cache-")]) {
      expectOneError(
        await runTsexec([join(dir, "main.ts")], { cacheDir: cache }),
        new RegExp(`^error: .*tsexec.lock: hash mismatch for input 'data' of main.ts .* hashes to ${good.replace(/[+/]/g, "\\$&")}, the lock says sha256-`),
      );
      expect(readLockText(dir)).toBe(before);
    }
  });

  test("a corrupt lock and a future-version lock (line named, file left alone)", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`) });
    const entry = { hash: `sha256-${Buffer.alloc(32).toString("base64")}`, lockedAt: "2026-01-01T00:00:00.000Z", rev: "zz", source: "x", submodules: true, url: r.data.url };
    writeFileSync(join(dir, "tsexec.lock"), `${JSON.stringify({ inputs: { "main.ts": { data: entry } }, version: 1 }, null, 2)}\n`);
    expectOneError(await runTsexec([join(dir, "main.ts")]), /^error: .*tsexec.lock:7: "inputs"\."main.ts"\."data"\."rev" must be a string matching .*: fix it/);
    writeFileSync(join(dir, "tsexec.lock"), `{\n  "version": 1,\n  oops\n}\n`);
    expectOneError(await runTsexec(["lock", join(dir, "main.ts")]), /^error: .*tsexec.lock:3: the lock file is not valid JSON/);
    writeFileSync(join(dir, "tsexec.lock"), `{ "version": 2 }\n`);
    expectOneError(await runTsexec([join(dir, "main.ts")]), /^error: .*tsexec.lock: lock format version 2 is newer than this tsexec understands \(1\): upgrade tsexec/);
    expect(readFileSync(join(dir, "tsexec.lock"), "utf8")).toBe(`{ "version": 2 }\n`);
  });

  test("update of an input the script does not declare", async () => {
    const dir = project({ "main.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1" }`) });
    expectOneError(await runTsexec(["update", join(dir, "main.ts"), "tolls"]), /^error: .*main.ts declares no input 'tolls' \(its inputs: data\)\n$/);
  });

  test("an input naming a script (#fragment) or neither a reference nor a registry name", async () => {
    const dir = project({
      "frag.ts": inputsScript(`{ data: "git+${r.data.url}?ref=v1#x.ts" }`),
      "odd.ts": inputsScript(`{ data: "./relative/path.git" }`),
    });
    expectOneError(await runTsexec([join(dir, "frag.ts")]), /^error: input 'data' of frag.ts .*: an input names a repository, not a script: drop '#x.ts'/);
    expectOneError(await runTsexec([join(dir, "odd.ts")]), /^error: input 'data' of odd.ts .*: '.\/relative\/path.git' is neither a reference/);
  });
});

describe("inputs over HTTP, and inputs that are tsexec projects themselves", () => {
  test("an input served over the loopback HTTP server is fetched and locked", async () => {
    const { startGitHttpServer } = await import("../git/http-server.js");
    const server = await startGitHttpServer(r.root);
    try {
      const dir = project({ "main.ts": inputsScript(`{ data: "git+${server.url}/data.git?ref=v1" }`) });
      const out = await runTsexec([join(dir, "main.ts")]);
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout).data.rev).toBe(r.data.commits[0]);
      expect(readLockJson(dir).inputs["main.ts"].data.url).toBe(`${server.url}/data.git`);
    } finally {
      await server.close();
    }
  });

  test("a script run from a checkout uses the lock committed beside it (no re-resolution), and never writes one", async () => {
    const own = repos();
    const { publish } = await import("./fixtures.js");
    const script = inputsScript(`{ data: "git+${own.data.url}?ref=main" }`);
    // Lock it in a working copy, then publish script and lock together.
    const staging = project({ "deploy.ts": script });
    expect((await runTsexec(["lock", join(staging, "deploy.ts")])).code).toBe(0);
    const tool = publish(own.root, "tool-with-lock", { "deploy.ts": script, "tsexec.lock": readLockText(staging)!, "unlocked.ts": script });
    own.data.advance();
    const locked = await runTsexec([`git+${tool.url}?rev=${tool.commits[0]}#deploy.ts`]);
    expect(locked.stderr).toBe("");
    expect(JSON.parse(locked.stdout).data.rev).toBe(own.data.commits[0]);
    // A script of the checkout its lock does not cover: resolved, with the read-only warning.
    const unlocked = await runTsexec([`git+${tool.url}?rev=${tool.commits[0]}#unlocked.ts`]);
    expect(JSON.parse(unlocked.stdout).data.rev).toBe(own.data.commits[1]);
    expect(unlocked.stderr).toMatch(/^tsexec: warning: input 'data' of unlocked.ts .* is not locked: it resolved to commit .* is read-only, so no tsexec.lock was written there/);
    // A project using the tool as an input locks the tool only: nothing transitively.
    const user = project({ "main.ts": inputsScript(`{ tool: "git+${tool.url}?ref=main" }`) });
    expect((await runTsexec([join(user, "main.ts")])).code).toBe(0);
    expect(Object.keys(readLockJson(user).inputs["main.ts"])).toEqual(["tool"]);
  });
});
