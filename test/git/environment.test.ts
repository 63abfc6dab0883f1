/**
 * Where fetchgit keeps its cache by default, what git sees of the user's
 * environment (no GIT_* variable but the certificate ones, never a prompt),
 * and a known-answer vector for the content hash.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";
import { toolFixture, type ToolFixture } from "./fixtures.js";
import { contentHash } from "../../src/builtins/fetchgit/hash.js";

let fixture: ToolFixture;
let script: string;
beforeAll(() => {
  fixture = toolFixture();
  script = join(writeTree({ "p.ts": `export default ({ args, lib }: any) => lib.map(console.log, lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n` }), "p.ts");
});

describe("default cache directories", () => {
  test("$XDG_CACHE_HOME/tsexec when TSEXEC_CACHE_DIR is unset", async () => {
    const xdg = tempDir("xdg-");
    const out = await runTsexec([script, fixture.fileUrl, fixture.commits.first], { env: { TSEXEC_CACHE_DIR: undefined, XDG_CACHE_HOME: xdg } });
    expect(out.code).toBe(0);
    expect(out.stdout.startsWith(join(xdg, "tsexec", "git") + "/")).toBe(true);
  });

  test("~/.cache/tsexec when neither is set", async () => {
    const home = tempDir("home-");
    const out = await runTsexec([script, fixture.fileUrl, fixture.commits.first], { env: { TSEXEC_CACHE_DIR: undefined, XDG_CACHE_HOME: undefined, HOME: home } });
    expect(out.code).toBe(0);
    expect(out.stdout.startsWith(join(home, ".cache", "tsexec", "git") + "/")).toBe(true);
  });

  test("TSEXEC_CACHE_DIR wins over both", async () => {
    const cacheDir = tempDir("cache-");
    const out = await runTsexec([script, fixture.fileUrl, fixture.commits.first], { cacheDir, env: { XDG_CACHE_HOME: tempDir("xdg-") } });
    expect(out.stdout.startsWith(join(cacheDir, "git") + "/")).toBe(true);
  });
});

describe("git's environment", () => {
  test("GIT_DIR, GIT_CONFIG_* and GIT_ASKPASS set by the user do not reach git", async () => {
    const marker = join(tempDir("askpass-"), "asked");
    const askpass = join(tempDir("askpass-"), "askpass.sh");
    writeFileSync(askpass, `#!/bin/sh\ntouch ${marker}\necho secret\n`);
    chmodSync(askpass, 0o755);
    const out = await runTsexec([script, fixture.fileUrl, fixture.commits.first], {
      env: {
        GIT_DIR: "/nonexistent/git-dir",
        GIT_WORK_TREE: "/nonexistent/work-tree",
        GIT_CONFIG_COUNT: "1",
        GIT_CONFIG_KEY_0: "protocol.file.allow",
        GIT_CONFIG_VALUE_0: "never",
        GIT_CONFIG_PARAMETERS: "'protocol.allow'='never'",
        GIT_ASKPASS: askpass,
      },
    });
    expect([out.code, out.stderr]).toEqual([0, ""]);
    expect(existsSync(marker)).toBe(false);
  });

  test("a server asking for credentials fails at once: no prompt, no askpass (GIT_TERMINAL_PROMPT=0)", async () => {
    const marker = join(tempDir("askpass-"), "asked");
    const askpass = join(tempDir("askpass-"), "askpass.sh");
    writeFileSync(askpass, `#!/bin/sh\ntouch ${marker}\necho secret\n`);
    chmodSync(askpass, 0o755);
    const server = createServer((_req, res) => {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="x"' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/private.git`;
      const out = await runTsexec([script, url, fixture.commits.first], { env: { GIT_ASKPASS: askpass, SSH_ASKPASS: askpass, GIT_TERMINAL_PROMPT: "1" }, timeoutMs: 20_000 });
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(new RegExp(`^error: fetchgit: .*${url.replace(/[.]/g, "\\.")}`));
      expect(out.stderr).toMatch(/terminal prompts disabled/);
      expect(existsSync(marker)).toBe(false);
    } finally {
      server.close();
    }
  });
});

describe("content hash", () => {
  /** The documented record format (docs/git.md), computed here without hash.ts. */
  function expected(records: [kind: string, path: string, bytes: string][]): string {
    const h = createHash("sha256");
    for (const [kind, path, bytes] of records) h.update(Buffer.concat([Buffer.from(`${kind} ${path}\0${Buffer.byteLength(bytes)}\0`), Buffer.from(bytes)]));
    return `sha256-${h.digest("base64")}`;
  }

  test("known-answer vector: kinds f/x/l, paths sorted as UTF-8 bytes ('.' before '/', 'Z' before 'a'), directories ignored", () => {
    const root = tempDir("hash-kat-");
    writeFileSync(join(root, "a.txt"), "hello\n");
    mkdirSync(join(root, "a"));
    writeFileSync(join(root, "a", "b"), "");
    writeFileSync(join(root, "Z"), "zed");
    mkdirSync(join(root, "bin"));
    writeFileSync(join(root, "bin", "run"), "#!/bin/sh\n");
    chmodSync(join(root, "bin", "run"), 0o755);
    symlinkSync("a.txt", join(root, "link"));
    mkdirSync(join(root, "empty"));
    writeFileSync(join(root, "é"), "é");
    const vector = expected([
      ["f", "Z", "zed"],
      ["f", "a.txt", "hello\n"],
      ["f", "a/b", ""],
      ["x", "bin/run", "#!/bin/sh\n"],
      ["l", "link", "a.txt"],
      ["f", "é", "é"],
    ]);
    expect(contentHash(root)).toBe(vector);
    // The same vector, written down (also computed with Python's hashlib): a format change fails here even if made on both sides.
    expect(vector).toBe("sha256-6fgORvxhjaq9j054jiH1/d8cbVZtUalPBJhz3MuFhRI=");
    expect(readdirSync(root)).toContain("empty");
  });
});
