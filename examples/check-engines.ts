// Checks a package.json's `engines.node` range against the running Node, with two npm packages
// that nothing installs: `tsexec examples/check-engines.ts [path/to/package.json]`.
// The first run resolves the `npm:` ranges and pins them in examples/tsexec.lock (committed);
// later runs install exactly those versions from the store, without asking the registry.
import { readFileSync } from "node:fs";
import pc from "npm:picocolors@^1.1.0";
import semver from "npm:semver@^7.6.0";
import { defineScript } from "tsexec";

export default defineScript(({ args, lib }) =>
  lib.io(() => {
    const file = args[1] ?? "package.json";
    const range: string | undefined = JSON.parse(readFileSync(file, "utf8")).engines?.node;
    if (range === undefined) return console.log(pc.dim(`${file} has no engines.node range`));
    const ok = semver.satisfies(process.version, range);
    console.log(`${ok ? pc.green("ok") : pc.red("unsupported")}: node ${process.version} ${ok ? "satisfies" : "does not satisfy"} ${pc.bold(range)}`);
  }),
);
