/**
 * Command lines as text, for messages and `--verbose`: each argument quoted as
 * a POSIX shell would need it, so what is printed is what ran, and control
 * characters (from hostile arguments or output) are shown as escapes, never sent
 * to the terminal.
 */

/** `git commit -m 'a message'` */
export function formatCommandLine(argv: readonly string[]): string {
  return argv.map(quoteArgument).join(" ");
}

/** One argument, quoted for `sh` when it needs to be; `$'...'` when it holds control characters. */
export function quoteArgument(arg: string): string {
  if (arg !== "" && /^[\w@%+=:,./-]+$/.test(arg)) return arg;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(arg)) return `$'${arg.replace(/[\\']/g, "\\$&").replace(/[\x00-\x1f\x7f]/g, hexEscape)}'`;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `text` with control characters (but tabs) shown as `\xNN`. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f\x9b]/g, hexEscape);
}

function hexEscape(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}
