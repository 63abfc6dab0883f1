/**
 * Fixtures for the flakes tests: small repositories published as bare
 * repositories under one root (file:// URLs), and projects whose scripts
 * declare them as inputs.
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir, writeTree } from "../helpers.js";
import { git, WorkRepo } from "../git/fixtures.js";

export interface Published {
  readonly work: WorkRepo;
  readonly bare: string;
  readonly url: string;
  /** Commits on main, oldest first. */
  readonly commits: string[];
  /** Commits `files` on main and pushes; returns the new commit. */
  advance(files?: Record<string, string>): string;
  /** Moves the bare repository away (no network) and back. */
  hide(): () => void;
}

export function publish(root: string, name: string, files: Record<string, string>): Published {
  const work = WorkRepo.create();
  const first = work.commit("first", files);
  const bare = work.publish(root, name);
  const commits = [first];
  return {
    work,
    bare,
    url: pathToFileURL(bare).href,
    commits,
    advance(more = { "moved.txt": `moved ${commits.length}\n` }) {
      const commit = work.commit(`commit ${commits.length}`, more);
      work.push(bare);
      commits.push(commit);
      return commit;
    },
    hide() {
      const away = `${bare}.away`;
      renameSync(bare, away);
      return () => renameSync(away, bare);
    },
  };
}

export interface Repos {
  readonly root: string;
  readonly tools: Published;
  readonly data: Published;
}

/** `tools` (lib.ts, package.json bin with two apps, a default) and `data` (data.txt, a tag v1). */
export function repos(): Repos {
  const root = tempDir("flakes-root-");
  const tools = publish(root, "tools", {
    "lib.ts": `export const greet = (who: string) => "hello " + who;\n`,
    "deploy.ts": `/** Deploys things. */\nexport default ({ args, lib }: any) => lib.io(() => console.log("deploy " + JSON.stringify(args.slice(1))));\n`,
    "scripts/check.ts": `/** Checks things. */\nexport default ({ args, lib }: any) => lib.io(() => console.log("check " + JSON.stringify(args.slice(1))));\n`,
    "other.ts": `/** Another script. */\nexport default ({ lib }: any) => lib.io(() => console.log("other"));\n`,
    "default.ts": `export default ({ lib }: any) => lib.io(() => console.log("tools default"));\n`,
    "package.json": JSON.stringify({ name: "tools", bin: { deploy: "deploy.ts", check: "./scripts/check.ts" } }),
  });
  const data = publish(root, "data", { "data.txt": "data one\n" });
  git(data.work.dir, "tag", "v1");
  data.work.push(data.bare);
  return { root, tools, data };
}

/** A script declaring `inputs` (given as source text) that prints what it received as JSON. */
export function inputsScript(inputs: string): string {
  return `import { readFileSync } from "node:fs";
import { defineScript } from "tsexec";
export const inputs = ${inputs};
export default defineScript(inputs, ({ inputs, lib }) =>
  lib.io(() => {
    const out: Record<string, unknown> = {};
    for (const [name, input] of Object.entries(inputs)) out[name] = { rev: input.rev, asText: \`\${input}\` === input.path, readOnly: true };
    console.log(JSON.stringify(out));
  }),
);
`;
}

/** A project directory holding `files`. */
export function project(files: Record<string, string>): string {
  return writeTree(files, tempDir("flakes-project-"));
}

export function readLockText(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, "tsexec.lock"), "utf8");
  } catch {
    return undefined;
  }
}

export function readLockJson(dir: string): any {
  return JSON.parse(readLockText(dir)!);
}

export function writeLockJson(dir: string, value: unknown): void {
  writeFileSync(join(dir, "tsexec.lock"), `${JSON.stringify(value, null, 2)}\n`);
}

export function makeReadOnly(dir: string): void {
  chmodSync(dir, 0o555);
}
