/**
 * `tsexec init [DIR]`: a script project an editor understands at once, with
 * nothing to install: package.json (an ES module package; no dependency on
 * tsexec, whose name on the npm registry belongs to an unrelated package), a
 * tsconfig.json with the options tsexec's loader implements, an executable
 * example script, a .gitignore, and node_modules links to the running tsexec
 * and the fp-ts and Node types it brings (editor-links.ts; `tsexec check`
 * re-makes them after a clone). It never overwrites a file: if any of them
 * exists, nothing is written.
 */
import { accessSync, chmodSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { basename, delimiter, join, relative, resolve } from "node:path";
import { TsexecError } from "../../base/errors.js";
import { writeFileAtomic } from "../../base/files.js";
import { UsageError } from "../options.js";
import { packageRoot } from "../../base/package.js";
import { linkEditorTypes } from "./check/editor-links.js";
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
    await (await import("./init/template.js")).initFromTemplate(rest[0] ?? ".", ref, ctx);
    return 0;
  }
  if (args.length > 1) throw new UsageError("init takes at most one directory: tsexec init [DIR]");
  initProject(args[0] ?? ".");
  return 0;
};

const exampleScript = `#!/usr/bin/env tsexec
// Greets each name given: ./main.ts Ada Grace (with tsexec on PATH), or tsexec main.ts Ada Grace.
// Type-check with: tsexec check (it also links node_modules/tsexec for your editor after a clone)
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
    // tsexec and fp-ts are the running tsexec's own (node_modules links), never the registry's.
    "package.json": json({ name, private: true, type: "module" }),
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
  const linked = linkEditorTypes(root);
  const fromHere = relative(process.cwd(), root);
  const shown = fromHere === "" ? "." : fromHere.startsWith("..") ? root : fromHere;
  write(
    `Created ${Object.keys(files).map((name) => join(shown, name)).join(", ")}.\n` +
      (linked.length > 0 ? `node_modules links ${listed(linked)} to this tsexec (${packageRoot}) for your editor; nothing to install.\n` : "") +
      `Next: cd ${shown} && ${runCommand()}; ${tsexecCommand()} check type-checks (and re-links node_modules after a clone).\n`,
  );
}

/** `a, b and c`. */
function listed(names: readonly string[]): string {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** `tsexec` when it is on PATH, else the launcher's path (a warm start either way; never npx, which would ask the registry). */
function tsexecCommand(): string {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((dir) => dir !== "");
  return dirs.some((dir) => isExecutable(join(dir, "tsexec"))) ? "tsexec" : join(packageRoot, "shebang", "tsexec");
}

function runCommand(): string {
  const tsexec = tsexecCommand();
  return tsexec === "tsexec" ? "./main.ts (or tsexec main.ts)" : `${tsexec} main.ts (tsexec is not on PATH; with it there, ./main.ts)`;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** An npm package name from the directory's name (lowercase, URL-safe). */
function packageName(root: string): string {
  const name = basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "");
  return name || "scripts";
}
