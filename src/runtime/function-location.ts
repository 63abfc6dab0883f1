/**
 * Where a function was written, asked of V8 only when an error is reported:
 * a rejected `lib.task` carries no stack of the script, and capturing a call
 * site each time a task is built would cost microseconds per task (a program
 * may build 10^5 of them for lib.all). V8 knows every function's location
 * (`[[FunctionLocation]]`); the inspector protocol tells it, in this thread,
 * synchronously.
 */
import { mapPosition } from "./loader/source-maps.js";

interface Location {
  readonly scriptId: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

/** `file:line:col` of where `f` was written (its `.ts` line for a transpiled script), if V8 can say. */
export function functionLocation(f: unknown): string | undefined {
  if (typeof f !== "function") return undefined;
  const inspector = process.getBuiltinModule("node:inspector") as typeof import("node:inspector");
  const session = new inspector.Session();
  const scripts = new Map<string, string>();
  const holder = globalThis as { __tsexecLocate?: unknown };
  try {
    session.connect();
    session.on("Debugger.scriptParsed", (message: { params: { scriptId: string; url: string } }) => {
      scripts.set(message.params.scriptId, message.params.url);
    });
    let location: Location | undefined;
    holder.__tsexecLocate = f;
    session.post("Debugger.enable", () => {});
    session.post("Runtime.evaluate", { expression: "globalThis.__tsexecLocate" }, (error, result) => {
      const objectId = result?.result?.objectId;
      if (error || objectId === undefined) return;
      session.post("Runtime.getProperties", { objectId, ownProperties: true }, (failure, properties) => {
        const internal = properties?.internalProperties?.find((p) => p.name === "[[FunctionLocation]]");
        if (!failure && internal?.value?.value) location = internal.value.value as Location;
      });
    });
    if (location === undefined) return undefined;
    const url = scripts.get(location.scriptId);
    return url ? mapPosition(url, location.lineNumber + 1, location.columnNumber + 1) : undefined;
  } catch {
    return undefined; // no inspector in this Node, or it is in use: the error goes without a site
  } finally {
    delete holder.__tsexecLocate;
    try {
      session.disconnect();
    } catch {
      // never connected
    }
  }
}
