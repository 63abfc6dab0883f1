/**
 * The progress bar of a slow fetch: drawn on stderr only when stderr is a
 * terminal, and only once the fetch has taken more than `delayMs` (fast
 * fetches stay silent). Fed by simple-git's progress events.
 */
export interface ProgressEvent {
  readonly stage: string;
  readonly progress: number;
  readonly processed: number;
  readonly total: number;
}

export interface ProgressBar {
  update(event: ProgressEvent): void;
  /** Erases the bar if one was drawn. */
  done(): void;
}

interface Terminal {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export function progressBar(what: string, stream: Terminal = process.stderr, delayMs = 1000, now: () => number = Date.now): ProgressBar | undefined {
  if (!stream.isTTY) return undefined;
  const started = now();
  let drawn = false;
  return {
    update(event) {
      if (now() - started < delayMs) return;
      stream.write(`\r${renderBar(what, event, stream.columns ?? 80)}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}

/** One line: `tsexec: fetching <what>  receiving [#####.....]  50% (5/10)`, cut to the terminal's width. */
export function renderBar(what: string, event: ProgressEvent, columns: number): string {
  const width = 20;
  const filled = Math.round((Math.max(0, Math.min(100, event.progress)) / 100) * width);
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  const stage = event.stage.replace(/:$/, ""); // git's `remote: …` lines
  const line = `tsexec: fetching ${what}  ${stage} ${bar} ${String(event.progress).padStart(3)}% (${event.processed}/${event.total})`;
  return line.length > columns - 1 ? line.slice(0, columns - 1) : line.padEnd(columns - 1);
}
