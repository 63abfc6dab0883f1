/**
 * How a registry reference is spelled (`tools`, `tools/v3#deploy`). A module
 * of its own: running a script checks the spelling, and loads the registry
 * itself (./registry.ts) only when the script argument may name an entry.
 */

/** `name[/ref][#fragment]`, split; undefined when `typed` cannot be a registry reference. */
export function splitRegistryReference(typed: string): { name: string; ref: string | undefined; fragment: string | undefined } | undefined {
  const m = /^([A-Za-z][A-Za-z0-9_-]*)(?:\/([^#?]+))?(?:#(.*))?$/.exec(typed);
  if (!m) return undefined;
  return { name: m[1]!, ref: m[2], fragment: m[3] === "" ? undefined : m[3] };
}

/** Whether `typed` is spelled like a registry reference whose first part has no file extension (`tools`, `tools/v3#deploy`). */
export function mayBeRegistryReference(typed: string): boolean {
  return splitRegistryReference(typed) !== undefined && !/\.[A-Za-z0-9]+(#|$)/.test(typed);
}
