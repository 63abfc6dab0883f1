/** examples/bootstrap.ts against a fixture tool repository that pins its own tsexec launcher. */
import { join } from "node:path";
import { expect, test } from "vitest";
import { root, runTsexec } from "../helpers.js";
import { WorkRepo } from "./fixtures.js";
import { tempDir } from "../helpers.js";

const bootstrap = join(root, "examples", "bootstrap.ts");

function toolRepository(): { url: string; commit: string } {
  const work = WorkRepo.create();
  const commit = work.commit("tool with a pinned launcher", {
    "package.json": `{ "type": "module" }\n`,
    // A launcher pinned in the repository: here it runs the tsexec under test.
    "bin/tsexec": {
      text: `#!/usr/bin/env node\nimport { main } from ${JSON.stringify(join(root, "dist", "index.js"))};\nconst code = await main(process.argv.slice(2));\nif (code !== 0) process.exit(code);\n`,
      executable: true,
    },
    "default.ts": `export default ({ args, lib }: any) => lib.io(() => console.log("tool ran with " + JSON.stringify(args.slice(1)) + " pid " + process.pid));\n`,
  });
  const bare = work.publish(tempDir("bootstrap-root-"), "tool");
  return { url: bare, commit };
}

test("fetches the pinned revision, re-executes into its launcher, imports and runs the tool", async () => {
  const { url, commit } = toolRepository();
  const out = await runTsexec([bootstrap, url, commit, "--launcher", "bin/tsexec", "--", "a", "b"]);
  expect(out.stderr).toBe("");
  expect(out.code).toBe(0);
  const lines = out.stdout.trim().split("\n");
  // Only the re-executed process (running from the pinned launcher) gets this far.
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^bootstrap: ${commit} from ${url}, running under .*/checkouts/${commit}/bin/tsexec$`));
  expect(lines[1]).toMatch(/^tool ran with \["a","b"\] pid \d+$/);
});

test("without --launcher it runs under the current tsexec", async () => {
  const { url, commit } = toolRepository();
  const out = await runTsexec([bootstrap, url, commit, "--", "x"]);
  expect(out.stdout).toContain(`running under ${join(root, "shebang", "tsexec")}`);
  expect(out.stdout).toContain(`tool ran with ["x"]`);
});

test("without arguments: a clear usage message", async () => {
  const out = await runTsexec([bootstrap]);
  expect(out.code).toBe(1);
  expect(out.stderr).toContain("bootstrap needs the tool's repository URL and a commit\nusage: tsexec examples/bootstrap.ts URL COMMIT");
});
