/**
 * An app pinned as a profile pins it: the reference resolved to a commit now,
 * its script transpiled and its npm packages and inputs fetched into the
 * cache, without running any of it; and the launcher that runs exactly that
 * commit offline. `tsexec profile install` and `tsexec shell` share it.
 */
import { basename, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { PrimitiveContext } from "../../monad/io.js";
import { TsexecError } from "../../base/errors.js";
import { packageRoot } from "../../base/package.js";
import { printable } from "../../base/printable.js";
import { prepareScript } from "../../runtime/loader/prepare.js";
import { manifestFile } from "../../runtime/loader/cache.js";
import { isAppName } from "../apps.js";
import { checkoutReference, referenceScript, type Reference } from "../reference.js";
import type { ProfileApp } from "./generations.js";

export const appNamePattern = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;

/** Resolves, fetches and prepares `reference`; `as` names the launcher (else the app's name). */
export async function pinApp(reference: Reference, ctx: PrimitiveContext, as?: string): Promise<ProfileApp> {
  // The commit is recorded: the "not pinned" warning a run prints would only say what install does.
  const quiet: PrimitiveContext = { ...ctx, log: (line) => (/^warning: .* is not pinned: /.test(line) ? undefined : ctx.log(line)) };
  const resolved = await checkoutReference(reference, quiet);
  const script = referenceScript(resolved);
  const manifest = await prepareScript(script, ctx.cacheDir);
  const roots = [resolved.checkout];
  if (manifest !== undefined) roots.push(manifestFile(join(ctx.cacheDir, "scripts"), script));
  const declaration = manifest?.inputs;
  if (declaration !== undefined && Object.keys(declaration).length > 0) {
    const { provideInputs } = await import("../locked.js");
    const inputs = await provideInputs(script, declaration, ctx);
    for (const input of Object.values(inputs)) roots.push(input.path);
  }
  const name = as ?? defaultName(reference, script);
  if (!appNamePattern.test(name)) {
    throw new TsexecError(`'${printable(name)}' cannot name a launcher: use letters, digits, '.', '_', '+', '-' (--as NAME)`);
  }
  return {
    name,
    reference: reference.typed,
    pinned: reference.pinnedTo(resolved.commit),
    commit: resolved.commit,
    installedAt: new Date().toISOString(),
    cacheDir: ctx.cacheDir,
    script,
    roots,
  };
}

/** The fragment when it names an app (`#deploy`), else the script's file name without its extension. */
function defaultName(reference: Reference, script: string): string {
  if (reference.path !== undefined && isAppName(reference.path)) return reference.path;
  const file = basename(script, extname(script));
  return file === "default" || file === "index" ? basename(reference.url, ".git") : file;
}

/**
 * The launcher of `app`: a Node script that calls tsexec's main directly
 * (no shell, no second process), with the pinned reference, offline and with
 * the cache it was installed into, so it starts as a warm `tsexec REF#APP` does.
 */
export function launcherText(app: ProfileApp): string {
  const entry = pathToFileURL(join(packageRoot, "dist", "index.js")).href;
  const argv = ["--offline", "--cache-dir", resolve(app.cacheDir), app.pinned];
  return (
    `#!${process.execPath}\n` +
    `// tsexec launcher: ${app.name} = ${app.reference.replace(/[\r\n]/g, " ")} at ${app.commit} (installed ${app.installedAt})\n` +
    `import(${JSON.stringify(entry)}).then(({ main }) => main([...${JSON.stringify(argv)}, ...process.argv.slice(2)])).then((code) => { if (code !== 0) process.exit(code); });\n`
  );
}
