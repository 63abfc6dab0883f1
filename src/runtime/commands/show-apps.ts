/**
 * What `tsexec show` lists beside the scripts (issue 9): the apps the
 * package.json `bin` names (name → script, description), and each script's
 * declared inputs with whether tsexec.lock pins them. Static, like the rest
 * of show: nothing is run, nothing fetched.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { listApps } from "../apps.js";
import { mayDeclareInputs, readInputsDeclaration } from "../inputs.js";
import { printable } from "../printable.js";
import { readLock, type LockFile } from "../lockfile.js";

interface Listed {
  readonly path: string;
  readonly summary: string;
}

/** The listing's lines: apps, then the other scripts, then inputs (the scripts' lines alone when there are neither). */
export function flakeListing(root: string, checkout: string, scripts: readonly Listed[], what: string, withApps: boolean): string[] {
  const apps = withApps ? listApps(root, checkout, what) : [];
  const byPath = new Map(scripts.map((s) => [s.path, s]));
  const appScripts = new Set(apps.map((a) => a.script).filter((s): s is string => s !== undefined));
  const others = scripts.filter((s) => !appScripts.has(s.path));
  const lines: string[] = [];
  const indent = apps.length > 0 ? "    " : "  ";
  if (apps.length > 0) {
    lines.push("  apps:");
    const width = Math.max(...apps.map((a) => `${a.name} → ${a.script ?? "?"}`.length));
    for (const app of apps) {
      const head = `${printable(app.name)} → ${printable(app.script ?? "?")}`;
      const tail = app.script === undefined ? `(broken: ${printable(app.problem ?? "")})` : printable(byPath.get(app.script)?.summary ?? "");
      lines.push(`${indent}${head.padEnd(width)}${tail ? `  ${tail}` : ""}`.trimEnd());
    }
    if (others.length > 0) lines.push("  scripts:");
  }
  const shown = others.map((s) => ({ path: printable(s.path), summary: printable(s.summary) }));
  const width = Math.max(0, ...shown.map((s) => s.path.length));
  for (const script of shown) lines.push(`${indent}${script.path.padEnd(width)}${script.summary ? `  ${script.summary}` : ""}`.trimEnd());
  const inputs = inputLines(root, scripts);
  if (inputs.length > 0) lines.push("  inputs:", ...inputs);
  return lines;
}

/** The script (relative to `root`) the app `name` runs, if `bin` names it and it is sound. */
export function appPath(root: string, checkout: string, name: string): string | undefined {
  return listApps(root, checkout, "").find((app) => app.name === name)?.script;
}

/** `    deploy.ts: tools  github:acme/tools/v2  locked at <commit>` for each declared input. */
function inputLines(root: string, scripts: readonly Listed[]): string[] {
  const lines: string[] = [];
  const locks = new Map<string, LockFile | undefined | Error>();
  for (const script of scripts) {
    const file = join(root, script.path);
    let source: string;
    try {
      source = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (!mayDeclareInputs(source)) continue;
    let declaration;
    try {
      declaration = readInputsDeclaration(file, source);
    } catch (error) {
      lines.push(`    ${printable(script.path)}: (inputs not readable: ${printable((error as Error).message)})`);
      continue;
    }
    if (declaration === undefined) continue;
    const dir = dirname(file);
    if (!locks.has(dir)) {
      try {
        locks.set(dir, readLock(dir));
      } catch (error) {
        locks.set(dir, error as Error);
      }
    }
    const lock = locks.get(dir);
    const key = script.path.slice(script.path.lastIndexOf("/") + 1);
    for (const [name, declared] of Object.entries(declaration)) {
      const source = typeof declared.spec === "string" ? declared.spec : declared.spec.url;
      const entry = lock instanceof Error ? undefined : lock?.inputs?.[key]?.[name];
      const state =
        lock instanceof Error
          ? "lock unreadable"
          : entry === undefined
            ? "not locked"
            : entry.source === source
              ? `locked at ${entry.rev}`
              : `locked for another declaration (${printable(entry.source)})`;
      lines.push(`    ${printable(script.path)}: ${printable(name)}  ${printable(source)}  ${state}`);
    }
  }
  return lines;
}
