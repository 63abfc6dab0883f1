/** The progress bar on a real terminal: tsexec under script(1), fetching from a slow loopback server. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launcher, runCommand, runTsexec, tempDir, writeTree } from "../helpers.js";
import { toolFixture, type ToolFixture } from "./fixtures.js";
import { startGitHttpServer, type GitHttpServer } from "./http-server.js";

let fixture: ToolFixture;
let slow: GitHttpServer;
const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(async () => {
  fixture = toolFixture();
  slow = await startGitHttpServer(fixture.root, { delayMs: 700 });
});
afterAll(() => slow.close());

const fetchScript = () =>
  join(writeTree({ "f.ts": `export default ({ args, lib }: any) => lib.map((p: string) => console.log("done " + p.length), lib.builtins.fetchgit({ url: args[1], rev: args[2] }));\n` }), "f.ts");

test.runIf(hasScript)("a fetch slower than a second draws a progress bar on a terminal, then erases it", async () => {
  const command = [process.execPath, launcher, fetchScript(), `${slow.url}/tool.git`, fixture.commits.main].map((a) => `'${a}'`).join(" ");
  const out = await runCommand("script", ["-qec", command, "/dev/null"], { cacheDir: tempDir("cache-") });
  // script(1) shows the terminal's output: the bar is redrawn in place, cut to the terminal's width.
  expect(out.stdout).toMatch(/tsexec: fetching .*tool\.git [0-9a-f]{40}  \w+ \[[#.]{20}\] +\d+%/);
  expect(out.stdout).toContain("\x1b[K");
  expect(out.stdout).toContain("done ");
});

test("off a terminal nothing is drawn", async () => {
  const out = await runTsexec([fetchScript(), `${slow.url}/tool.git`, fixture.commits.main]);
  expect(out.code).toBe(0);
  expect(out.stderr).toBe("");
});
