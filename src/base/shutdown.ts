/**
 * SIGINT, SIGTERM and SIGHUP, from the first line of the CLI to its last.
 *
 * The first signal stops every child this run started (children.ts: SIGTERM
 * to each with its process group, SIGKILL after the grace period). Then:
 * - while a program runs, the program is interrupted (run.ts claims the
 *   signal with `onInterrupt`): it unwinds through its finalizers and tsexec
 *   exits with the signal's code once it has;
 * - before or after a program (fetching a reference or inputs, installing
 *   packages, `tsexec check`), tsexec exits as soon as its children are gone,
 *   without waiting for the work they were part of to unwind.
 * Either way the exit tasks run (`onExit`: locks released, temporary
 * directories removed), and the exit code is 130, 143 or 129. A second signal
 * sends SIGKILL to everything at once and exits shortly after.
 *
 * Base helper: Node's builtins, children.ts and files.ts only.
 */
import { anythingLeft, killGrace, liveChildCount, signalEverything, stopEverything } from "./children.js";
import { removeTree } from "./files.js";

/** The exit codes of a run stopped by a signal: 128 + the signal's number, as shells report it. */
export const signalExitCodes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
export type StopSignal = keyof typeof signalExitCodes;

let installed = false;
let received: StopSignal | undefined;
/** Who handles the first signal themselves (a running program); without one, tsexec exits once its children are gone. */
const claims = new Set<(signal: StopSignal) => void>();
/** Synchronous work the process does on its way out, whatever the way (locks, temporary directories). */
const exitTasks = new Set<() => void>();

/** Listens for SIGINT, SIGTERM and SIGHUP (once; the CLI calls it first thing). */
export function handleStopSignals(): void {
  if (installed) return;
  installed = true;
  for (const signal of Object.keys(signalExitCodes)) process.on(signal, onSignal);
}

/**
 * Hands the signals over (a plain Node program run as an app, cli/commands/run-app.ts):
 * from here on the program's own listeners, or Node's default, decide, as under `node`.
 */
export function releaseStopSignals(): void {
  if (!installed) return;
  installed = false;
  for (const signal of Object.keys(signalExitCodes)) process.off(signal, onSignal);
}

/** The signal that stopped this run, if one did. */
export function stopSignal(): StopSignal | undefined {
  return received;
}

/** The exit code of the signal that stopped this run, if one did. */
export function stopExitCode(): number | undefined {
  return received === undefined ? undefined : signalExitCodes[received];
}

/**
 * `interrupt` is told of the first signal (at once, if one came already) and
 * takes over ending the run. Returns the way to give the signal back.
 */
export function onInterrupt(interrupt: (signal: StopSignal) => void): () => void {
  claims.add(interrupt);
  if (received !== undefined) interrupt(received);
  return () => void claims.delete(interrupt);
}

/**
 * Runs `task` when the process exits (normally, by `process.exit`, or after a
 * signal), unless the returned function is called first. Exit tasks are
 * synchronous and must not throw.
 */
export function onExit(task: () => void): () => void {
  if (exitTasks.size === 0) process.once("exit", runExitTasks);
  exitTasks.add(task);
  return () => {
    exitTasks.delete(task);
    if (exitTasks.size === 0) process.off("exit", runExitTasks);
  };
}

function runExitTasks(): void {
  // After a signal something may have started a child since (a fetch that went on): no grace now.
  if (received !== undefined) signalEverything("SIGKILL", true);
  for (const task of [...exitTasks].reverse()) {
    try {
      task();
    } catch {
      // One task failing must not keep the others from running.
    }
  }
  exitTasks.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (received !== undefined) {
    // Asked again: no more grace. SIGKILL now; and if something that is no child still holds
    // the run (a finalizer waiting on a promise that never settles), end the process shortly after.
    signalEverything("SIGKILL", true);
    const code = signalExitCodes[received];
    setTimeout(() => process.exit(code), 1000).unref();
    return;
  }
  received = signal as StopSignal;
  // The program first: interrupting it signals its own children at once.
  for (const interrupt of [...claims]) interrupt(received);
  // /proc is read now only where something may not be registered (no program to unwind, or a child
  // a library started, such as simple-git's git); otherwise the end of the program reads it once
  // (run.ts, stopLeftovers): a signal costs one scan, not two.
  stopEverything(claims.size === 0 || unregisteredChildren());
  if (claims.size === 0) exitOnceChildrenAreGone();
}

/** Whether Node holds child processes that are not registered in children.ts. */
function unregisteredChildren(): boolean {
  let handles = 0;
  for (const resource of process.getActiveResourcesInfo()) if (resource === "ProcessWrap") handles++;
  return handles > liveChildCount();
}

let exiting = false;

/**
 * Exits with the signal's code once every child is gone (polled; zombies do not
 * count), or once the grace period and two seconds more have passed (a process
 * stuck in the kernel outlives even SIGKILL for a while).
 */
function exitOnceChildrenAreGone(): void {
  if (exiting) return;
  exiting = true;
  const giveUp = Date.now() + killGrace() + 2000;
  const poll = (): void => {
    if (claims.size > 0) {
      exiting = false; // a program started meanwhile: it ends the run
      return;
    }
    if (anythingLeft(true) && Date.now() < giveUp) {
      setTimeout(poll, 5);
      return;
    }
    process.exit(stopExitCode());
  };
  setImmediate(poll);
}

/**
 * A temporary file or directory being assembled: removed on the way out unless
 * the returned function says it was renamed into place (or removed) first.
 */
export function removeOnExit(path: string): () => void {
  return onExit(() => removeTree(path));
}
