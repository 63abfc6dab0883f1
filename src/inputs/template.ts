/**
 * Templates (`tsexec init --template REF[#NAME]`, Nix's `nix flake init -t`):
 * a directory of a reference (or a local directory) copied into a project.
 * Which directory: the `tsexec.templates` entry NAME of the package.json at
 * the reference's root (`"NAME": "path"` or `{ "path", "description",
 * "welcomeText" }`), else `templates/NAME/`; without NAME, the entry or
 * directory `default`, else the only template there is.
 *
 * The source is untrusted: nothing outside it is read (a symbolic link is
 * copied as a link only when it stays inside the template), sizes are bounded,
 * and no file of the destination is overwritten: if any would be, nothing is
 * written.
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, symlinkSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { TsexecError } from "../base/errors.js";
import { writeFileAtomic } from "../base/files.js";
import { printable } from "../base/printable.js";

export interface Template {
  readonly name: string;
  /** The template directory (a real path inside `boundary`). */
  readonly dir: string;
  readonly description?: string;
  readonly welcomeText?: string;
}

const maxFiles = 10_000;
const maxBytes = 64 << 20;

interface TemplateEntry {
  readonly path: string;
  readonly description?: string;
  readonly welcomeText?: string;
}

/** The templates `root`'s package.json declares, by name (empty without any). */
function declaredTemplates(root: string, what: string): Record<string, TemplateEntry> {
  const file = join(root, "package.json");
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isFile() || stat.size > 1 << 20) return {};
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new TsexecError(`${what}: its package.json is not valid JSON, so its templates cannot be read`);
  }
  const templates = (pkg as { tsexec?: { templates?: unknown } } | null)?.tsexec?.templates;
  if (templates === undefined) return {};
  if (typeof templates !== "object" || templates === null || Array.isArray(templates)) {
    throw new TsexecError(`${what}: package.json "tsexec": { "templates" } must be an object of name → path or { path, description, welcomeText }`);
  }
  const out: Record<string, TemplateEntry> = Object.create(null) as Record<string, TemplateEntry>;
  for (const [name, value] of Object.entries(templates as Record<string, unknown>)) {
    const entry = typeof value === "string" ? { path: value } : (value as Partial<TemplateEntry> | null);
    if (typeof entry?.path !== "string") throw new TsexecError(`${what}: template '${printable(name)}' in package.json has no "path"`);
    out[name] = {
      path: entry.path,
      ...(typeof entry.description === "string" ? { description: entry.description } : {}),
      ...(typeof entry.welcomeText === "string" ? { welcomeText: entry.welcomeText } : {}),
    };
  }
  return out;
}

/** The template `name` (or the default one) of `root`, confined to `boundary`. */
export function findTemplate(root: string, boundary: string, name: string | undefined, what: string): Template {
  const declared = declaredTemplates(root, what);
  const onDisk = listDirectories(join(root, "templates"));
  const available = [...new Set([...Object.keys(declared), ...onDisk])];
  const chosen = name ?? (available.includes("default") ? "default" : available.length === 1 ? available[0] : undefined);
  if (chosen === undefined || (!Object.hasOwn(declared, chosen) && !onDisk.includes(chosen))) {
    const offered = available.length ? `it offers ${available.map(printable).join(", ")}` : "it has no package.json \"tsexec\": { \"templates\" } and no templates/ directory";
    throw new TsexecError(`${what} has no template ${chosen === undefined ? "named default (choose one with #NAME)" : `'${printable(chosen)}'`}: ${offered}`);
  }
  const entry = Object.hasOwn(declared, chosen) ? declared[chosen]! : { path: join("templates", chosen) };
  const dir = inside(boundary, root, entry.path, `${what}: template '${printable(chosen)}'`);
  if (!lstatSync(dir).isDirectory()) throw new TsexecError(`${what}: template '${printable(chosen)}' → '${printable(entry.path)}' is not a directory`);
  return { name: chosen, dir, ...(entry.description ? { description: entry.description } : {}), ...(entry.welcomeText ? { welcomeText: entry.welcomeText } : {}) };
}

function listDirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** The real path of `base/path`, which must exist inside `boundary` once links are followed. */
function inside(boundary: string, base: string, path: string, what: string): string {
  const normal = normalize(path);
  if (isAbsolute(path) || normal === ".." || normal.startsWith(`..${sep}`)) throw new TsexecError(`${what}: '${printable(path)}' leads out of the source: template paths must stay inside it`);
  let real: string;
  try {
    real = realpathSync(join(base, normal));
  } catch {
    throw new TsexecError(`${what}: no directory '${printable(path)}'`);
  }
  if (real !== boundary && !real.startsWith(boundary + sep)) throw new TsexecError(`${what}: '${printable(path)}' leads out of the source (a symbolic link to ${printable(real)})`);
  return real;
}

interface Planned {
  readonly rel: string;
  readonly kind: "dir" | "file" | "link";
  readonly mode: number;
  readonly source: string;
}

/** What copying `template` would create, checked whole before anything is written. */
function plan(template: Template, what: string): Planned[] {
  const out: Planned[] = [];
  let bytes = 0;
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const source = join(dir, entry.name);
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const stat = lstatSync(source);
      if (out.length >= maxFiles) throw new TsexecError(`${what} has more than ${maxFiles} files: refusing to copy it`);
      if (stat.isDirectory()) {
        out.push({ rel: path, kind: "dir", mode: 0o755, source });
        walk(source, path);
      } else if (stat.isFile()) {
        bytes += stat.size;
        if (bytes > maxBytes) throw new TsexecError(`${what} holds more than ${maxBytes >> 20} MiB: refusing to copy it`);
        out.push({ rel: path, kind: "file", mode: stat.mode & 0o111 ? 0o755 : 0o644, source });
      } else if (stat.isSymbolicLink()) {
        const target = readlinkSync(source);
        const lands = resolve(dirname(source), target);
        if (isAbsolute(target) || relative(template.dir, lands).startsWith("..")) {
          throw new TsexecError(`${what}: '${printable(path)}' is a symbolic link out of the template (to ${printable(target)}): refusing to copy it`);
        }
        out.push({ rel: path, kind: "link", mode: 0, source });
      }
      // Pipes, sockets, devices: not template content.
    }
  };
  walk(template.dir, "");
  return out;
}

/** Copies `template` into `dest`; every file is checked first: if one exists, nothing is written. Returns the paths made (relative). */
export function copyTemplate(template: Template, dest: string, what: string): string[] {
  const planned = plan(template, what);
  const clashes = planned.filter((p) => {
    const stat = lstatSync(join(dest, p.rel), { throwIfNoEntry: false });
    return stat !== undefined && !(p.kind === "dir" && stat.isDirectory());
  });
  if (clashes.length > 0) {
    const shown = clashes.slice(0, 5).map((c) => printable(join(dest, c.rel))).join(", ");
    throw new TsexecError(`the template would overwrite ${shown}${clashes.length > 5 ? ` and ${clashes.length - 5} more` : ""}: nothing was written; remove them, or init another directory`);
  }
  mkdirSync(dest, { recursive: true });
  const made: string[] = [];
  for (const p of planned) {
    const target = join(dest, p.rel);
    if (p.kind === "dir") {
      mkdirSync(target, { recursive: true });
      continue;
    }
    if (p.kind === "link") symlinkSync(readlinkSync(p.source), target);
    else {
      writeFileAtomic(target, readFileSync(p.source));
      chmodSync(target, p.mode);
    }
    made.push(p.rel);
  }
  return made;
}
