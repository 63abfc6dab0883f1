/**
 * A cheap guard against source nested too deep to parse. oxc's parser and
 * transformer recurse on the native stack and crash the whole process
 * (SIGSEGV) at about 5,000 levels of brackets or template literals;
 * es-module-lexer gives up at about 1,100. One linear pass counts the nesting
 * of `( [ {`, template literals and their `${ }`, skipping strings, comments
 * and regular expressions, so that such a file is refused with its name and
 * line before any parser sees it.
 *
 * The scan is a tokenizer's approximation, not a parser: a `/` is taken for a
 * regular expression or a division by the token before it, and strings end at
 * a line break, so a misreading costs at most one line's count. It sees
 * brackets only: other constructs (`a => a => …`, `a ? a ? …`) crash oxc only
 * past about 10,000 levels.
 */

/** Deepest nesting tsexec accepts: far beyond hand-written or generated code, below what es-module-lexer handles. */
export const maxNesting = 1000;

/** Where the nesting first exceeds `limit` (1-based line), or undefined if it never does. */
export function tooDeepAt(source: string, limit: number = maxNesting): number | undefined {
  // Stack of open constructs: "(" "[" "{", "`" (inside a template's text) and "$" (a `${` substitution).
  const open: string[] = [];
  let line = 1;
  let afterValue = false; // the previous token ends an expression: a `/` here divides
  let i = source.startsWith("#!") ? source.indexOf("\n") : 0;
  if (i < 0) return undefined;
  const n = source.length;
  const push = (kind: string): boolean => {
    open.push(kind);
    return open.length > limit;
  };
  while (i < n) {
    if (open[open.length - 1] === "`") {
      // Template text: up to the closing backtick or a `${`.
      const c = source.charCodeAt(i);
      if (c === 0x60 /* ` */) {
        open.pop();
        afterValue = true;
        i++;
      } else if (c === 0x5c /* \ */) {
        if (source.charCodeAt(i + 1) === 0x0a) line++;
        i += 2;
      } else if (c === 0x24 /* $ */ && source.charCodeAt(i + 1) === 0x7b /* { */) {
        if (push("$")) return line;
        afterValue = false;
        i += 2;
      } else {
        if (c === 0x0a) line++;
        i++;
      }
      continue;
    }
    const c = source.charCodeAt(i);
    switch (c) {
      case 0x0a:
        line++;
        i++;
        continue;
      case 0x20:
      case 0x09:
      case 0x0d:
        i++;
        continue;
      case 0x28: // (
      case 0x5b: // [
      case 0x7b: // {
        if (push(source[i]!)) return line;
        afterValue = false;
        i++;
        continue;
      case 0x29: // )
      case 0x5d: // ]
      case 0x7d: {
        // }
        // The `}` of a `${ }` returns to the template's text, which is still open.
        open.pop();
        afterValue = true;
        i++;
        continue;
      }
      case 0x60: // `
        if (push("`")) return line;
        i++;
        continue;
      case 0x22: // "
      case 0x27: // '
        i = skipString(source, i, c);
        afterValue = true;
        continue;
      case 0x2f: {
        // /
        const next = source.charCodeAt(i + 1);
        if (next === 0x2f) {
          const end = source.indexOf("\n", i);
          i = end < 0 ? n : end;
        } else if (next === 0x2a) {
          const end = source.indexOf("*/", i + 2);
          const stop = end < 0 ? n : end + 2;
          for (let j = i; j < stop; j++) if (source.charCodeAt(j) === 0x0a) line++;
          i = stop;
        } else if (afterValue) {
          afterValue = false;
          i++;
        } else {
          i = skipRegExp(source, i);
          afterValue = true;
        }
        continue;
      }
      default:
        if (isWordChar(c)) {
          const start = i;
          while (i < n && isWordChar(source.charCodeAt(i))) i++;
          // Keywords are 2 to 10 lowercase letters: most words need no look-up.
          afterValue = i - start < 2 || i - start > 10 || c < 0x61 || !keywordsBeforeExpression.has(source.slice(start, i));
        } else if ((c === 0x2b || c === 0x2d) && source.charCodeAt(i + 1) === c) {
          i += 2; // `++`/`--` leave the expression as it was: `a++ / 2` divides
        } else {
          afterValue = false;
          i++;
        }
    }
  }
  return undefined;
}

/** Words after which a `/` starts a regular expression, although they look like values. */
const keywordsBeforeExpression = new Set([
  "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await",
]);

function isWordChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c >= 0x80;
}

/** The index after a quoted string starting at `start` (or after the line break that cuts it off). */
function skipString(source: string, start: number, quote: number): number {
  let i = start + 1;
  while (i < source.length) {
    const c = source.charCodeAt(i);
    if (c === quote) return i + 1;
    if (c === 0x0a) return i; // unterminated: the line break is counted by the caller
    i += c === 0x5c && source.charCodeAt(i + 1) !== 0x0a ? 2 : 1;
  }
  return i;
}

/** The index after a regular expression literal starting at `start` (its flags are read as a word). */
function skipRegExp(source: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < source.length) {
    const c = source.charCodeAt(i);
    if (c === 0x0a) return i;
    if (c === 0x5c && source.charCodeAt(i + 1) !== 0x0a) i += 2;
    else {
      if (c === 0x5b) inClass = true;
      else if (c === 0x5d) inClass = false;
      else if (c === 0x2f && !inClass) return i + 1;
      i++;
    }
  }
  return i;
}
