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
import { readFileSync, readdirSync } from "node:fs";

const live = new Set<ChildProcess>();
/**
 * The process groups of registered children whose leader has exited while other
 * members (a command's background grandchildren) may still run: the end of the
 * run signals them too.
 */
const orphanedGroups = new Set<number>();

/**
 * The variable every child of a run inherits: the runs it descends from
 * (`<pid>.<start time>`, space-separated, the innermost tsexec last). A process
 * that leaves tsexec's tree (`setsid` and a double fork reparent it to init)
 * keeps its environment, so the end of the run still finds it in /proc.
 */
export const runsVariable = "TSEXEC_RUNS";
/** This run's entry in `TSEXEC_RUNS`, once a child is about to start. */
let ownRun: string | undefined;

/**
 * Called before a child is spawned (lib.exec, a builder, git, an install
 * script, a checker): from then on this run's children carry its mark, and
 * the end of the run looks for them.
 */
export function beforeSpawn(): void {
  if (ownRun !== undefined) return;
  ownRun = `${process.pid}.${readStat(process.pid)?.start ?? "0"}`;
  const inherited = process.env[runsVariable];
  process.env[runsVariable] = inherited ? `${inherited} ${ownRun}` : ownRun;
}

/** The mark, for a child spawned with an environment of its own (a builder's). */
export function childMark(): Record<string, string> {
  beforeSpawn();
  return { [runsVariable]: process.env[runsVariable]! };
}

/** Whether this run has started a child (so the end of the run must look for survivors). */
export function childrenStarted(): boolean {
  return ownRun !== undefined;
}

/** Registers `child` (spawned with `detached: true`) until it exits. */
export function trackChild(child: ChildProcess): ChildProcess {
  beforeSpawn();
  const pid = child.pid;
  if (pid === undefined) return child; // never started: 'error' follows, nothing to track
  live.add(child);
  child.once("exit", () => {
    live.delete(child);
    if (groupExists(pid)) orphanedGroups.add(pid);
  });
  return child;
}

let graceMs = 3000;

/** How long a child has between SIGTERM and SIGKILL (--kill-grace, $TSEXEC_KILL_GRACE). */
export function setKillGrace(ms: number): void {
  graceMs = ms;
}

export function killGrace(): number {
  return graceMs;
}

/**
 * Stops `child` and everything in its process group: SIGTERM now, SIGKILL to
 * whatever of the group is left after the grace period.
 */
export function stopChild(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  signalPid(-pid, "SIGTERM") || signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => signalPid(-pid, "SIGKILL"), graceMs);
  timer.unref();
}

/** Whether process group `pgid` still has a member. */
function groupExists(pgid: number): boolean {
  return signalPid(-pgid, 0);
}

function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  // A group that is gone (ESRCH) is the common answer, once per finished child: the error
  // Node throws for it is dropped, so it is made without capturing a stack (a tenth of the cost).
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
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

/**
 * Signals everything this process started that may still run: every registered
 * child's process group (also those whose leader has exited), and, with
 * `everyDescendant`, every survivor found through /proc (children spawned by
 * libraries that do not hand the child over, such as simple-git's git, and
 * processes that left the tree but carry this run's mark), with its own group
 * when it leads one. Returns how many were signalled.
 */
export function signalEverything(signal: NodeJS.Signals, everyDescendant: boolean): number {
  let count = signalAllChildren(signal);
  for (const pgid of orphanedGroups) {
    if (signalPid(-pgid, signal)) count++;
    else orphanedGroups.delete(pgid);
  }
  if (everyDescendant) {
    const ownGroup = processGroupOf(process.pid);
    for (const { pid, pgid } of survivors()) {
      // Never our own group: that would signal tsexec itself and whoever started it.
      if (pgid !== ownGroup && pgid === pid) signalPid(-pgid, signal);
      if (signalPid(pid, signal)) count++;
    }
  }
  return count;
}

/** SIGTERM to everything (see signalEverything), SIGKILL after the grace period to whatever is left. */
export function stopEverything(everyDescendant: boolean): void {
  signalEverything("SIGTERM", everyDescendant);
  const timer = setTimeout(() => signalEverything("SIGKILL", everyDescendant), graceMs);
  timer.unref();
}

/**
 * Whether anything this process started may still run: a registered child not
 * yet reaped, or (with `everyDescendant`, or once this run started a child) a
 * survivor in /proc. A zombie is not alive: it has exited, and waiting for its
 * parent (init, for an orphan) to reap it would only delay us.
 */
export function anythingLeft(everyDescendant: boolean): boolean {
  if (live.size > 0) return true;
  if (!everyDescendant && !childrenStarted()) return false;
  return survivors().length > 0;
}

interface ProcessIds {
  readonly pid: number;
  readonly pgid: number;
}

interface ProcessStat extends ProcessIds {
  readonly ppid: number;
  readonly state: string;
  /** Start time in clock ticks since boot. */
  readonly start: number;
}

/** The processes below this one (children, grandchildren ...), from /proc; empty where there is no /proc. */
export function descendants(root: number = process.pid): ProcessIds[] {
  return descendantsIn(runningProcesses(), root);
}

/**
 * What this run started that still runs (zombies excluded): its descendants,
 * and processes started after it whose environment carries its mark (they left
 * the tree: `setsid` and a double fork). Empty where there is no /proc.
 */
export function survivors(): ProcessIds[] {
  const running = runningProcesses();
  const found = descendantsIn(running, process.pid);
  if (ownRun === undefined) return found;
  const byPid = new Map(running.map((p) => [p.pid, p]));
  const ownStart = byPid.get(process.pid)?.start ?? 0;
  // A process that left the tree was reparented to the nearest subreaper above the parent it
  // lost, which is one of tsexec's own ancestors, or to init. Only those ancestors' younger
  // children are read: another program's processes are not.
  const ancestors = new Set([1]);
  for (let at = byPid.get(process.pid)?.ppid; at !== undefined && at > 1 && !ancestors.has(at); at = byPid.get(at)?.ppid) ancestors.add(at);
  const seen = new Set(found.map((p) => p.pid));
  for (const stat of running) {
    if (stat.start < ownStart || !ancestors.has(stat.ppid) || stat.pid === process.pid || seen.has(stat.pid)) continue;
    if (!carriesOwnMark(stat.pid)) continue;
    // It and what it started since (its own tree).
    for (const member of [stat, ...descendantsIn(running, stat.pid)]) {
      if (!seen.has(member.pid)) found.push(member);
      seen.add(member.pid);
    }
  }
  return found;
}

/** Every process in /proc that has not exited (zombies left out). */
function runningProcesses(): ProcessStat[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const found: ProcessStat[] = [];
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57) continue; // not a pid
    const stat = readStat(Number(entry));
    if (stat !== undefined && stat.state !== "Z" && stat.state !== "X") found.push(stat);
  }
  return found;
}

function descendantsIn(running: readonly ProcessStat[], root: number): ProcessIds[] {
  const byParent = new Map<number, ProcessStat[]>();
  for (const stat of running) {
    const siblings = byParent.get(stat.ppid);
    if (siblings) siblings.push(stat);
    else byParent.set(stat.ppid, [stat]);
  }
  const found: ProcessIds[] = [];
  const queue = [root];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    for (const child of byParent.get(pid) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Whether `TSEXEC_RUNS` in the environment `pid` started with names this run. */
function carriesOwnMark(pid: number): boolean {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false; // gone, or another user's
  }
  const prefix = `${runsVariable}=`;
  const entry = environ.toString("latin1").split("\0").find((variable) => variable.startsWith(prefix));
  return entry !== undefined && entry.slice(prefix.length).split(" ").includes(ownRun!);
}

function processGroupOf(pid: number): number {
  return readStat(pid)?.pgid ?? pid;
}

/** `/proc/<pid>/stat`: `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses. */
function readStat(pid: number): ProcessStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined; // gone meanwhile
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: fields[0] ?? "", ppid: Number(fields[1]), pgid: Number(fields[2]), start: Number(fields[19]) };
}
