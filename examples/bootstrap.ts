// Bootstrap a tool from a pinned git revision, as nix-exec's nixops sketch does:
// fetch the revision, optionally re-execute into the tsexec launcher pinned in
// that revision, import the tool's entry point and run it with `lib`.
//
//   tsexec examples/bootstrap.ts URL COMMIT [--entry FILE] [--launcher FILE] [-- TOOL-ARGS...]
//
// URL: the tool's repository (https, ssh, file URL or a local path); COMMIT: a full
// commit hash (anything else works but prints a warning naming the commit to pin).
// --entry: the entry point inside the checkout (default: default.ts, then index.ts).
// --launcher: a tsexec launcher inside the checkout to run under; the first run
// re-executes into it (same PID), the re-executed run finds it already there and goes on.
import { defineScript, TsexecError } from "tsexec";

const usage = "usage: tsexec examples/bootstrap.ts URL COMMIT [--entry FILE] [--launcher FILE] [-- TOOL-ARGS...]";

interface Options {
  url: string;
  rev: string;
  entry: string;
  launcher: string | undefined;
  toolArgs: string[];
}

function parse(args: readonly string[]): Options {
  const [, url, rev, ...rest] = args;
  if (!url || !rev) throw new TsexecError(`bootstrap needs the tool's repository URL and a commit\n${usage}`);
  const options: Options = { url, rev, entry: ".", launcher: undefined, toolArgs: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === "--") {
      options.toolArgs = rest.slice(i + 1);
      break;
    }
    const value = rest[++i];
    if (value === undefined) throw new TsexecError(`bootstrap: ${arg} needs a value\n${usage}`);
    if (arg === "--entry") options.entry = value;
    else if (arg === "--launcher") options.launcher = value;
    else throw new TsexecError(`bootstrap: unknown option '${arg}'\n${usage}`);
  }
  return options;
}

export default defineScript(({ args, lib }) => {
  const options = parse(args);
  return lib.bind(lib.builtins.fetchgit({ url: options.url, rev: options.rev }), (checkout) =>
    lib.bind(
      options.launcher === undefined ? lib.unit(null) : lib.builtins.reexec(`${checkout}/${options.launcher}`),
      () =>
        lib.bind(
          lib.io(() => console.log(`bootstrap: ${options.rev} from ${options.url}, running under ${process.argv[1]}`)),
          () =>
            lib.bind(lib.import(`${checkout}/${options.entry}`), (tool) => {
              if (typeof tool !== "function") {
                throw new TsexecError(`bootstrap: ${options.entry} in ${checkout} does not export a function of { args, lib }`);
              }
              return tool({ args: [options.entry, ...options.toolArgs], lib });
            }),
        ),
    ),
  );
});
