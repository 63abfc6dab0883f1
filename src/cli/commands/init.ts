/**
 * `tsexec init [DIR]`: a script project an editor understands at once:
 * package.json (an ES module package depending on tsexec), a tsconfig.json
 * with the options tsexec's loader implements, an executable example script
 * and a .gitignore. It never overwrites a file: if any of them exists,
 * nothing is written.
 */
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { writeFileAtomic } from "../../base/files.js";
import { UsageError } from "../options.js";
import { versionString } from "../../base/package.js";
import { loaderCompilerOptions } from "./check.js";
import type { CommandRun } from "./command.js";

export const run: CommandRun = async ({ args, ctx }) => {
  const at = args.findIndex((a) => a === "--template" || a === "-t" || a.startsWith("--template="));
  if (at >= 0) {
    // `--template REF[#NAME]`: a template copied from a reference (init-template.ts).
    const inline = args[at]!.startsWith("--template=") ? args[at]!.slice("--template=".length) : undefined;
    const rest = args.filter((_, i) => i !== at && (inline !== undefined || i !== at + 1));
    const ref = inline ?? args[at + 1];
    if (!ref || rest.length > 1) throw new UsageError("init --template takes a reference and at most one directory: tsexec init [DIR] --template REF[#NAME]");
    await (await import("./init-template.js")).initFromTemplate(rest[0] ?? ".", ref, ctx);
    return 0;
  }
  if (args.length > 1) throw new UsageError("init takes at most one directory: tsexec init [DIR]");
  initProject(args[0] ?? ".");
  return 0;
};

const exampleScript = `#!/usr/bin/env tsexec
// Greets each name given: ./main.ts Ada Grace (with tsexec on PATH), or npx tsexec main.ts Ada Grace.
// Type-check with: npx tsexec check
import { defineScript } from "tsexec";

export default defineScript(({ args, lib }) => {
  const names = args.slice(1);
  return lib.io(() => {
    for (const name of names.length > 0 ? names : ["world"]) console.log(\`Hello, \${name}!\`);
  });
});
`;

/** The files `init` writes, by name. */
export function projectFiles(name: string): Record<string, string> {
  const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
  return {
    "package.json": json({ name, private: true, type: "module", dependencies: { tsexec: `^${versionString()}` } }),
    "tsconfig.json": json({ compilerOptions: { ...loaderCompilerOptions(), noEmit: true }, include: ["**/*.ts"] }),
    "main.ts": exampleScript,
    ".gitignore": "node_modules/\n",
  };
}

export function initProject(dir: string, write: (text: string) => void = (t) => void process.stdout.write(t)): void {
  const root = resolve(dir);
  const files = projectFiles(packageName(root));
  // Every file is checked before any is written: a refusal leaves the directory as it was.
  for (const name of Object.keys(files)) {
    if (existsSync(join(root, name))) {
      throw new TsexecError(`init would overwrite ${join(dir, name)}: remove it, or run tsexec init in another directory`);
    }
  }
  mkdirSync(root, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileAtomic(join(root, name), text);
  chmodSync(join(root, "main.ts"), 0o755);
  const fromHere = relative(process.cwd(), root);
  const shown = fromHere === "" ? "." : fromHere.startsWith("..") ? root : fromHere;
  write(
    `Created ${Object.keys(files).map((name) => join(shown, name)).join(", ")}.\n` +
      `Next: cd ${shown} && npm install, then ./main.ts (tsexec on PATH) or npx tsexec main.ts; npx tsexec check type-checks.\n`,
  );
}

/** An npm package name from the directory's name (lowercase, URL-safe). */
function packageName(root: string): string {
  const name = basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "");
  return name || "scripts";
}
