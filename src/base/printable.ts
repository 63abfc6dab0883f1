/**
 * Text from untrusted sources (file names and comments of a fetched
 * repository, cache contents) made safe to print on a terminal: control
 * characters (ESC, BEL, CR, line breaks, C1), and the invisible characters
 * that reorder or hide text (bidi overrides and isolates, line separators),
 * are shown as escapes instead of acting on the terminal.
 *
 * Base helper: imports nothing from above it.
 */

// C0 and DEL, C1, ALM, LRM/RLM, LS/PS, bidi embeddings/overrides, bidi isolates, BOM.
const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `text` with every unsafe character written as an escape (`\n`, `\x1b`, `\u202e`). */
export function printable(text: string): string {
  return text.replace(unsafe, (c) => {
    const code = c.charCodeAt(0);
    return named[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`);
  });
}
