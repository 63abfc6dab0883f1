/**
 * koffi, loaded on first use: it is a native module, and scripts that never
 * call C should not pay for it at start-up.
 */
import { createRequire } from "node:module";
import type { LibraryHandle } from "koffi";

export type KoffiModule = typeof import("koffi");
export type KoffiFunction = ReturnType<LibraryHandle["func"]>;
export type { LibraryHandle, TypeObject as KoffiTypeObject } from "koffi";

let koffiModule: KoffiModule | undefined;

export function koffi(): KoffiModule {
  return (koffiModule ??= createRequire(import.meta.url)("koffi") as KoffiModule);
}
