/**
 * The modules behind lib's heavier primitives (dlopen, derivations, fetchgit,
 * reexec, lib.import), loaded when a script first uses one, not at start-up.
 * `loadX()` yields the module at once (synchronously), so a primitive's
 * argument errors are thrown as the script builds its IO value, and its
 * synchronous runs work inside `unsafePerformIO`, as with a static import.
 *
 * Run from source (vitest, tsc) these are ordinary imports. The build swaps
 * this module for synchronous loads from dist/cold.cjs (scripts/build.mjs,
 * `firstUseLoaders`): the warm start never compiles them. Keep each loader in
 * the form `export const loadX = (): typeof x => x;` for its `import * as x`.
 */
import * as dlopen from "../builtins/dlopen/index.js";
import * as derivation from "../builtins/derivation/index.js";
import * as fetchgit from "../builtins/fetchgit/index.js";
import * as reexec from "../builtins/reexec/index.js";
import * as importModule from "../builtins/import/index.js";

export const loadDlopen = (): typeof dlopen => dlopen;
export const loadDerivation = (): typeof derivation => derivation;
export const loadFetchgit = (): typeof fetchgit => fetchgit;
export const loadReexec = (): typeof reexec => reexec;
export const loadImport = (): typeof importModule => importModule;
