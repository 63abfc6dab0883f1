/**
 * Files tsexec reads from places it does not own (issue 19): a FIFO, a link to
 * /dev/zero or out of the directory, or a huge file named tsexec.lock,
 * package.json, package-lock.json, .npmrc or registry.json is one `error:`
 * line naming the file, never a hang or a process growing to gigabytes.
 * Every run has a time limit: a regression fails (killed), it does not hang.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { readBounded, readBoundedText } from "../../src/base/bounded-read.js";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";

const mkfifo = (path: string) => execFileSync("mkfifo", [path]);
const prints = (text: string) => `export default ({ lib }: any) => lib.io(() => console.log(${JSON.stringify(text)}));\n`;
const withInput = `export const inputs = { tools: "git+file:///nonexistent/tools.git" };\n${prints("ran")}`;
/** Long enough for a cold transpile on a loaded machine; a hang is killed at this limit and fails. */
const limit = { timeoutMs: 30_000 };

async function oneError(args: string[], options: Parameters<typeof runTsexec>[1] = {}): Promise<string> {
  const out = await runTsexec(args, { ...limit, ...options });
  expect(out.signal).toBeNull(); // not killed at the limit: it did not hang
  expect(out.code).toBe(1);
  expect(out.stdout).toBe("");
  const lines = out.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!;
}

describe("the bounded reader", () => {
  test("reads a regular file, says absent, and refuses a FIFO, a device, a link out and a file over the limit", () => {
    const dir = tempDir("bounded-");
    const outside = tempDir("bounded-outside-");
    writeFileSync(join(dir, "ok.json"), "{}");
    writeFileSync(join(outside, "secret"), "secret");
    mkfifo(join(dir, "fifo"));
    symlinkSync("/dev/zero", join(dir, "zero"));
    symlinkSync(join(outside, "secret"), join(dir, "out"));
    symlinkSync("ok.json", join(dir, "in"));
    writeFileSync(join(dir, "big"), "");
    truncateSync(join(dir, "big"), 2048);
    expect(readBounded(join(dir, "ok.json"))).toEqual({ kind: "text", text: "{}" });
    expect(readBounded(join(dir, "in"))).toEqual({ kind: "text", text: "{}" });
    expect(readBounded(join(dir, "missing"))).toEqual({ kind: "absent" });
    expect(readBounded(join(dir, "fifo"))).toEqual({ kind: "refused", why: "a named pipe, not a regular file" });
    expect(readBounded(join(dir, "zero"))).toEqual({ kind: "refused", why: "a symbolic link out of its directory" });
    expect(readBounded(join(dir, "zero"), { boundary: "/" })).toEqual({ kind: "refused", why: "a device, not a regular file" });
    expect(readBounded(join(dir, "out"))).toEqual({ kind: "refused", why: "a symbolic link out of its directory" });
    expect(readBounded(join(dir, "out"), { boundary: "/" })).toEqual({ kind: "text", text: "secret" });
    expect(readBounded(join(dir, "big"), { maxBytes: 1024 })).toEqual({ kind: "refused", why: "2048 bytes, over the limit of 1024 bytes for this file" });
    expect(() => readBoundedText(join(dir, "fifo"))).toThrow(/^cannot read .*\/fifo: it is a named pipe, not a regular file: replace it with a regular file, or remove it$/);
  });
});

describe("a crafted tsexec.lock, package.json, .npmrc or registry.json is an error, not a hang", () => {
  test("tsexec s.ts with a FIFO named tsexec.lock", async () => {
    const dir = writeTree({ "s.ts": withInput });
    mkfifo(join(dir, "tsexec.lock"));
    expect(await oneError([join(dir, "s.ts")])).toMatch(/^error: cannot read .*\/tsexec\.lock: it is a named pipe, not a regular file: .*remove it to lock again$/);
  });

  test("tsexec lock with tsexec.lock a link to /dev/zero", async () => {
    const dir = writeTree({ "s.ts": withInput });
    symlinkSync("/dev/zero", join(dir, "tsexec.lock"));
    expect(await oneError(["lock", join(dir, "s.ts")])).toMatch(/cannot read .*\/tsexec\.lock: it is a symbolic link out of its directory/);
  });

  test("tsexec update with a FIFO named tsexec.lock", async () => {
    const dir = writeTree({ "s.ts": withInput });
    mkfifo(join(dir, "tsexec.lock"));
    expect(await oneError(["update", join(dir, "s.ts")])).toMatch(/cannot read .*\/tsexec\.lock: it is a named pipe/);
  });

  test("tsexec ./dir with package.json a link to /dev/zero, and a FIFO", async () => {
    const zero = writeTree({ "default.ts": prints("ran") });
    symlinkSync("/dev/zero", join(zero, "package.json"));
    expect(await oneError([zero])).toMatch(/cannot read .*\/package\.json: it is a symbolic link out of its directory/);
    const fifo = writeTree({ "default.ts": prints("ran") });
    mkfifo(join(fifo, "package.json"));
    expect(await oneError([`${fifo}#tool`])).toMatch(/cannot read .*\/package\.json: it is a named pipe/);
  });

  test("tsexec registry list with a FIFO named registry.json", async () => {
    const config = tempDir("config-");
    mkdirSync(join(config, "tsexec"));
    mkfifo(join(config, "tsexec", "registry.json"));
    expect(await oneError(["registry", "list"], { env: { XDG_CONFIG_HOME: config } })).toMatch(/cannot read the registry .*registry\.json: it is a named pipe/);
  });

  test("a project's .npmrc that is a FIFO", async () => {
    const dir = writeTree({ "package.json": "{}", "s.ts": `import pad from "npm:left-pad@1";\nexport default ({ lib }: any) => lib.io(() => console.log(pad));\n` });
    mkfifo(join(dir, ".npmrc"));
    const line = await oneError([join(dir, "s.ts")], { env: { npm_config_registry: "http://127.0.0.1:9/" } });
    expect(line).toMatch(/cannot read .*\/\.npmrc: it is a named pipe/);
  });

  test("a project's package-lock.json over the limit is not read whole", async () => {
    // A real file, sparse: 80 MiB on paper, nothing on disk; over the 64 MiB a lock may hold.
    const dir = writeTree({ "package.json": JSON.stringify({ dependencies: { "left-pad": "1" } }), "s.ts": `import pad from "left-pad";\nexport default ({ lib }: any) => lib.io(() => console.log(pad));\n` });
    writeFileSync(join(dir, "package-lock.json"), "");
    truncateSync(join(dir, "package-lock.json"), 80 * 1024 * 1024);
    expect(await oneError([join(dir, "s.ts")])).toMatch(/cannot read .*\/package-lock\.json: it is 80\.0 MiB, over the limit of 64\.0 MiB/);
  });
});

describe("links committed in a git reference", () => {
  let url: string;
  let commit: string;
  beforeAll(() => {
    const work = WorkRepo.create();
    commit = work.commit("links to /dev/zero", {
      "default.ts": prints("ran"),
      "package.json": { symlink: "/dev/zero" },
      "sub/s.ts": withInput,
      "sub/tsexec.lock": { symlink: "/dev/zero" },
    });
    url = pathToFileURL(work.publish(tempDir("bounded-root-"), "zero")).href;
  });

  test("running the reference: its package.json links to /dev/zero", async () => {
    expect(await oneError([`git+${url}?rev=${commit}`])).toMatch(/cannot read .*\/package\.json: it is a symbolic link out of its directory/);
  });

  test("running a script of the reference: its tsexec.lock links to /dev/zero", async () => {
    expect(await oneError([`git+${url}?rev=${commit}#sub/s.ts`])).toMatch(/cannot read .*\/sub\/tsexec\.lock: it is a symbolic link out of its directory/);
  });
});
