/** Whether the owner of a lock is still there: its pid, and its start time against pid reuse. */
import { readFileSync } from "node:fs";

/**
 * True if a process with this pid runs (EPERM: it exists, owned by someone else). A zombie
 * (exited, not yet reaped by its parent) does not: it holds nothing any more, and its parent
 * may be the very process waiting on it, unable to reap it until the wait ends.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return processState(pid) !== "Z";
}

/** The state letter of /proc/<pid>/stat (R, S, D, Z ...), where /proc exists. */
function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/**
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/<pid>/stat), where /proc exists: a pid reused by another process has
 * another start time.
 */
export function processStart(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** The fields of /proc/<pid>/stat after the command name (state first), or undefined. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}
