/**
 * The child processes a run has started, each in a process group of its own
 * (spawned with `detached: true`), so that an interrupted or finished program
 * can signal every one of them with its whole group (grandchildren under
 * `sh -c` included) and leave nothing behind.
 *
 * Base helper: imports nothing from above it. Whoever spawns a long-lived
 * child (lib.exec, a derivation's builder) registers it here; the runtime's
 * interruption signals what is registered.
 */
import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();

/** Registers `child` (spawned with `detached: true`) until it exits. */
export function trackChild(child: ChildProcess): ChildProcess {
  if (child.pid === undefined) return child; // never started: 'error' follows, nothing to track
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Sends `signal` to the process group of `child`; false if it is gone already. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    try {
      return child.kill(signal); // not a group leader after all
    } catch {
      return false;
    }
  }
}

/** Sends `signal` to every registered child's group; returns how many were signalled. */
export function signalAllChildren(signal: NodeJS.Signals): number {
  let count = 0;
  for (const child of live) if (signalGroup(child, signal)) count++;
  return count;
}

/** How many registered children are still running. */
export function liveChildCount(): number {
  return live.size;
}
