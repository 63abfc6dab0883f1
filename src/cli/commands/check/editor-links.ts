/**
 * What an editor needs to type a tsexec project with no install: tsexec is not
 * on the npm registry (the name belongs to an unrelated package), so a project
 * cannot depend on it. Instead `node_modules/tsexec` links to the running
 * copy, and `node_modules/fp-ts` and `node_modules/@types/node` to the copies
 * it brings along (the loader gives scripts those same copies). `tsexec init`
 * makes the links; `tsexec check` re-makes them (after a clone, or when
 * another tsexec runs the project). A real directory there is the user's
 * install and is never replaced; a node_modules that is itself a link is
 * never written through.
 */
import { lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { packageRoot } from "../../../base/package.js";

/** Package name → the directory the running tsexec has it in. */
function ownCopies(): Record<string, string> {
  const fromTsexec = createRequire(join(packageRoot, "package.json"));
  return {
    tsexec: packageRoot,
    "fp-ts": dirname(fromTsexec.resolve("fp-ts/package.json")),
    "@types/node": dirname(fromTsexec.resolve("@types/node/package.json")),
  };
}

const kind = (path: string) => {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  return stat === undefined ? "absent" : stat.isSymbolicLink() ? "link" : stat.isDirectory() ? "directory" : "other";
};

/**
 * Makes (or re-points) the links in `projectDir/node_modules`; returns the
 * names it changed. Each link is made beside its place and renamed over it,
 * so an editor never sees it missing.
 */
export function linkEditorTypes(projectDir: string): string[] {
  const changed: string[] = [];
  for (const [name, target] of Object.entries(ownCopies())) {
    const link = join(projectDir, "node_modules", name);
    // Every directory on the way must be a real one: never write through a link out of the project.
    const parents = name.includes("/") ? [join(projectDir, "node_modules"), dirname(link)] : [join(projectDir, "node_modules")];
    if (parents.some((dir) => !["absent", "directory"].includes(kind(dir)))) continue;
    const now = kind(link);
    if (now === "directory" || now === "other" || (now === "link" && readlinkSync(link) === target)) continue;
    mkdirSync(dirname(link), { recursive: true });
    const temporary = `${link}.tsexec-${process.pid}`;
    rmSync(temporary, { force: true });
    symlinkSync(target, temporary, "dir");
    renameSync(temporary, link);
    changed.push(name);
  }
  return changed;
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * Whether `projectDir` is a project `tsexec check` keeps linked: a
 * package.json with a tsconfig.json beside it (an editor's project), that
 * does not itself depend on a package named tsexec and is not tsexec itself.
 */
export function wantsEditorLinks(projectDir: string): boolean {
  if (kind(join(projectDir, "tsconfig.json")) !== "other") return false;
  // tsexec's own checkout (its examples are checked there) has its packages already.
  if (samePath(projectDir, packageRoot)) return false;
  try {
    const pkg = JSON.parse(readFileSync(join(projectDir, "package.json"), "utf8")) as Record<string, unknown>;
    const sections = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];
    return !sections.some((section) => typeof pkg[section] === "object" && pkg[section] !== null && "tsexec" in (pkg[section] as object));
  } catch {
    return false;
  }
}
