/**
 * What `tsexec show` lists beside the scripts (issue 9): the apps the
 * package.json `bin` names (name → script, description), and each script's
 * declared inputs with whether tsexec.lock pins them. Static, like the rest
 * of show: nothing is run, nothing fetched.
 */
import { realpathSync, statSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { listApps } from "../../../inputs/apps.js";
import type { InputsDeclaration } from "../../../runtime/loader/inputs-declaration.js";
import { printable } from "../../../base/printable.js";
import { readLock, type LockFile } from "../../../base/lockfile.js";

/** A listed script; its inputs come from the parser child, which read the file (show.ts). */
interface Listed {
  readonly path: string;
  readonly summary: string;
  readonly inputs?: InputsDeclaration;
  readonly inputsError?: string;
}

/** What show reads in its own process (package.json, tsexec.lock) is held to the parser's limit per file. */
const maxReadBytes = 1024 * 1024;

/** The listing's lines: apps, then the other scripts, then inputs (the scripts' lines alone when there are neither). */
export function flakeListing(root: string, checkout: string, scripts: readonly Listed[], what: string, withApps: boolean): string[] {
  const unreadable = withApps ? whyNotReadable(root, checkout, "package.json") : undefined;
  const apps = withApps && unreadable === undefined ? listApps(root, checkout, what) : [];
  const byPath = new Map(scripts.map((s) => [s.path, s]));
  const appScripts = new Set(apps.map((a) => a.script).filter((s): s is string => s !== undefined));
  const others = scripts.filter((s) => !appScripts.has(s.path));
  const lines: string[] = unreadable === undefined ? [] : [`  apps: (not read: package.json is ${unreadable})`];
  const indent = apps.length > 0 ? "    " : "  ";
  if (apps.length > 0) {
    lines.push("  apps:");
    const width = Math.max(...apps.map((a) => `${a.name} → ${a.script ?? "?"}`.length));
    for (const app of apps) {
      const head = `${printable(app.name)} → ${printable(app.script ?? "?")}`;
      const summary = app.script === undefined ? "" : printable(byPath.get(app.script)?.summary ?? "");
      const tail = app.script === undefined ? `(broken: ${printable(app.problem ?? "")})` : `(${app.kind})${summary ? `  ${summary}` : ""}`;
      lines.push(`${indent}${head.padEnd(width)}${tail ? `  ${tail}` : ""}`.trimEnd());
    }
    if (others.length > 0) lines.push("  scripts:");
  }
  const shown = others.map((s) => ({ path: printable(s.path), summary: printable(s.summary) }));
  const width = Math.max(0, ...shown.map((s) => s.path.length));
  for (const script of shown) lines.push(`${indent}${script.path.padEnd(width)}${script.summary ? `  ${script.summary}` : ""}`.trimEnd());
  const inputs = inputLines(root, checkout, scripts);
  if (inputs.length > 0) lines.push("  inputs:", ...inputs);
  return lines;
}

/** Whether `root`'s package.json (readable as show may read it) names any bin. */
export function hasApps(root: string, checkout: string, what: string): boolean {
  return whyNotReadable(root, checkout, "package.json") === undefined && listApps(root, checkout, what).length > 0;
}

/** The script (relative to `root`) the app `name` runs, if `bin` names it and it is sound. */
export function appPath(root: string, checkout: string, name: string): string | undefined {
  if (whyNotReadable(root, checkout, "package.json") !== undefined) return undefined;
  return listApps(root, checkout, "").find((app) => app.name === name)?.script;
}

/** A tsexec.lock show does not read: why. */
class NotRead extends Error {}

/** `    deploy.ts: tools  github:acme/tools/v2  locked at <commit>` for each declared input. */
function inputLines(root: string, boundary: string, scripts: readonly Listed[]): string[] {
  const lines: string[] = [];
  const locks = new Map<string, LockFile | undefined | Error>();
  for (const script of scripts) {
    if (script.inputsError !== undefined) {
      lines.push(`    ${printable(script.path)}: (inputs not readable: ${printable(script.inputsError)})`);
      continue;
    }
    const declaration = script.inputs;
    if (declaration === undefined) continue;
    const dir = dirname(join(root, script.path));
    if (!locks.has(dir)) {
      const unreadable = whyNotReadable(dir, boundary, "tsexec.lock");
      try {
        locks.set(dir, unreadable === undefined ? readLock(dir) : new NotRead(unreadable));
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
          ? lock instanceof NotRead
            ? `lock not read (${lock.message})`
            : "lock unreadable"
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

/**
 * Why `dir/name` may not be read on a listing's behalf, or undefined when it may: absent
 * (its reader says so), or a regular file inside `boundary` once every link is followed and
 * no bigger than the parser's limit. A crafted tree (a checkout, a cloned directory) may link package.json
 * or tsexec.lock anywhere, or make one a gigabyte.
 */
function whyNotReadable(dir: string, boundary: string, name: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(join(dir, name));
  } catch {
    return undefined;
  }
  if (!real.startsWith(realpathSync(boundary) + sep)) return "a symbolic link out of the directory";
  const stat = statSync(real, { throwIfNoEntry: false });
  if (stat === undefined) return undefined;
  // A FIFO would block the read for ever, a device never end it.
  if (!stat.isFile()) return "not a regular file";
  return stat.size > maxReadBytes ? `${(stat.size / (1024 * 1024)).toFixed(1)} MiB, over show's limit of 1 MiB per file` : undefined;
}
