/**
 * `import lib from "tsexec/unsafe-lib"`: the `lib` scripts receive, for plain
 * Node code outside tsexec (nix-exec's unsafe-lib.nix). Relative paths given
 * to primitives resolve against the current directory; the context (cache
 * directory, verbosity) comes from the environment.
 */
// Imported from the package entry, not bundled: one copy of the IO type per process.
import { makeLib } from "./index.js";

const lib = makeLib({ dir: process.cwd() });
export default lib;
