/**
 * The last-use mark `tsexec gc` reads: a cache entry a run uses gets its
 * modification time set to now (one `utimes`, a few microseconds), on the
 * file or directory gc takes as the entry's mark (docs/gc.md). Marks are best
 * effort: a read-only cache, or an entry removed meanwhile, only makes it look
 * older to gc, never fails a run.
 */
import { utimesSync } from "node:fs";

const marked = new Set<string>();

/** Sets `path`'s mtime to now, once per process. Setting explicit times needs ownership, not the write bit: read-only checkouts are marked too. */
export function markUsed(path: string): void {
  if (marked.has(path)) return;
  marked.add(path);
  try {
    const now = Date.now() / 1000;
    utimesSync(path, now, now);
  } catch {
    // Not ours, read-only file system, or gone: gc sees the older time.
  }
}
