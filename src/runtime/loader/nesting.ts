/**
 * A cheap guard against source nested too deep to parse. oxc's parser and
 * transformer recurse on the native stack and crash the whole process
 * (SIGSEGV) at about 5,000 levels of brackets or template literals, and at
 * 10,000 to 100,000 levels of nesting without brackets (`a => a => …`,
 * `x ? 1 : x ? 1 : …`, `!!!…x`, `a = a = …`, `2 ** 2 ** …`, `if (x) if (x) …`,
 * `A<A<…>>`, even `1 + 1 + …` or `a.b.b.…`); V8 throws "Maximum call stack
 * size exceeded", naming no file, at 1,500 arrows or `if`s; es-module-lexer
 * gives up at about 1,100 brackets. One linear pass, skipping strings,
 * comments and regular expressions, bounds the depth so that such a file is
 * refused with its name and line before any parser sees it:
 *
 * - Nesting: open brackets, template literals and `${ }`, plus, in each open
 *   bracket, the tokens that can nest what follows them (`=>`, `?`, `:`,
 *   assignments, `**`, prefix `! ~ + -`, `typeof void delete await new yield
 *   extends keyof infer`, `if else for while do with`, labels, `<`) since the last
 *   point where the nesting provably ends: a `,` outside `< >` (which ends
 *   expressions, not statements), a `;` (not
 *   before `else`/`while`) or a line break that ends a statement.
 * - Length: every other token (operands, `.`, binary operators, calls) since
 *   that point, since oxc nests left-associative chains too.
 *
 * This over-approximates (`a = b ? c : d` counts 3): real code stays far
 * below the limits, and a hostile file cannot nest past them, since every
 * level needs one of the counted tokens. The scan is a tokenizer's
 * approximation, not a parser: a `/` is taken for a regular expression or a
 * division by the token before it, and strings end at a line break.
 */

/** Deepest nesting tsexec accepts: far beyond hand-written or generated code, below what es-module-lexer and V8 handle. */
export const maxNesting = 1000;

/** Most operands and operators one expression may chain without a break: far below what oxc handles (about 100,000). */
export const maxChain = 20_000;

/** Where source first nests too deep or chains too long (1-based line), and what to say: "nested deeper than …". */
export interface TooDeep {
  readonly line: number;
  readonly what: string;
  /** The same, short. */
  readonly brief: string;
}

/** Where the nesting first exceeds `limit` (1-based line), or undefined if it never does. */
export function tooDeepAt(source: string, limit: number = maxNesting, chainLimit: number = maxChain): number | undefined {
  return findTooDeep(source, limit, chainLimit)?.line;
}

/** One bracket level's counts since its nesting last provably ended. */
interface Level {
  nesting: number; // tokens that can nest what follows them
  statement: number; // of which `if else for while do with` and labels: a `,` does not end them
  angles: number; // `<` not closed by a JSX `</…>` or `/>`
  balance: number; // `<` minus `>`: a `,` inside `< >` (type arguments) ends nothing
  chain: number; // other tokens
}

const statementKeywords = new Set(["if", "else", "for", "while", "do", "with"]);
const nestingKeywords = new Set(["typeof", "void", "delete", "await", "new", "yield", "extends", "keyof", "infer", "if", "else", "for", "while", "do", "with"]);
/** Words that continue an expression or statement onto the next line (no automatic semicolon before them). */
const continuingWords = new Set(["else", "in", "instanceof", "of", "as", "satisfies", "extends", "implements", "is", "while"]);

/** Where the nesting or one expression's length first exceeds its limit, or undefined if neither does. */
export function findTooDeep(source: string, limit: number = maxNesting, chainLimit: number = maxChain): TooDeep | undefined {
  // Stack of open constructs: "(" "[" "{", "h" (the parentheses after `if`/`for`/`while`/`with`), "`" (inside a template's text) and "$" (a `${` substitution).
  const open: string[] = [];
  const outer: Level[] = []; // the suspended counts of each enclosing level
  let level: Level = { nesting: 0, statement: 0, angles: 0, balance: 0, chain: 0 };
  let outerNesting = 0; // sum of `nesting + angles` over `outer`
  let outerChain = 0; // sum of `chain` over `outer`
  let line = 1;
  let afterValue = false; // the previous token ends an expression: a `/` here divides
  let afterHead = false; // the previous word was `if`, `for`, `while` or `with`: its `(` is a head
  let atStart = true; // a statement may start here (so a word and `:` are a label)
  let afterLabel = false; // the previous token was a word that started a statement: a `:` after it ends a label
  let pending: "" | ";" | "\n" = ""; // a `;` or a line break after a value: the statement may end at the next token
  let i = source.startsWith("#!") ? source.indexOf("\n") : 0;
  if (i < 0) return undefined;
  const n = source.length;
  const deep = (): boolean => open.length + outerNesting + level.nesting + level.angles > limit;
  const tooDeep = (): TooDeep =>
    outerNesting + level.nesting + level.angles === 0
      ? { line, what: `nested deeper than ${limit} levels of brackets or template literals`, brief: `nested deeper than ${limit} levels` }
      : {
          line,
          what: `nested deeper than ${limit} levels of brackets, template literals and operators that nest (=> ? : = ! typeof if else and the like)`,
          brief: `nested deeper than ${limit} levels`,
        };
  const tooLong = (): TooDeep => ({
    line,
    what: `chains more than ${chainLimit} operands and operators in one expression`,
    brief: `one expression chains more than ${chainLimit} operators`,
  });
  const reset = (): void => {
    level = { nesting: 0, statement: 0, angles: 0, balance: 0, chain: 0 };
    atStart = true;
  };
  /** Counts a token that can nest what follows it; false if that passes the limit. */
  const nest = (): boolean => {
    level.nesting++;
    return !deep();
  };
  const chain = (): boolean => {
    level.chain++;
    return outerChain + level.chain <= chainLimit;
  };
  /** Settles a pending statement end before the token at `i` (`word`: the word it starts, if any). */
  const settle = (word: string | undefined): void => {
    if (pending === ";" ? word !== "else" && word !== "while" : word !== undefined && !continuingWords.has(word)) reset();
    pending = "";
  };
  const push = (kind: string): boolean => {
    open.push(kind);
    outer.push(level);
    outerNesting += level.nesting + level.angles;
    outerChain += level.chain;
    level = { nesting: 0, statement: 0, angles: 0, balance: 0, chain: 0 };
    atStart = true;
    return !deep();
  };
  const pop = (): string | undefined => {
    const kind = open.pop();
    const restored = outer.pop();
    if (restored !== undefined) {
      level = restored;
      outerNesting -= level.nesting + level.angles;
      outerChain -= level.chain;
    }
    return kind;
  };
  while (i < n) {
    if (open[open.length - 1] === "`") {
      // Template text: up to the closing backtick or a `${`.
      const c = source.charCodeAt(i);
      if (c === 0x60 /* ` */) {
        pop();
        afterValue = true;
        if (!chain()) return tooLong();
        i++;
      } else if (c === 0x5c /* \ */) {
        if (source.charCodeAt(i + 1) === 0x0a) line++;
        i += 2;
      } else if (c === 0x24 /* $ */ && source.charCodeAt(i + 1) === 0x7b /* { */) {
        if (!push("$")) return tooDeep();
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
        if (afterValue && pending === "") pending = "\n";
        i++;
        continue;
      case 0x20:
      case 0x09:
      case 0x0d:
        i++;
        continue;
      case 0x2f: {
        // /
        const next = source.charCodeAt(i + 1);
        if (next === 0x2f) {
          const end = source.indexOf("\n", i);
          i = end < 0 ? n : end;
          continue;
        }
        if (next === 0x2a) {
          const end = source.indexOf("*/", i + 2);
          const stop = end < 0 ? n : end + 2;
          for (let j = i; j < stop; j++) if (source.charCodeAt(j) === 0x0a) line++;
          i = stop;
          continue;
        }
      }
    }
    // A token: the statement before it may have ended.
    let word: string | undefined;
    if (isWordChar(c)) {
      const start = i;
      while (i < n && isWordChar(source.charCodeAt(i))) i++;
      word = source.slice(start, i);
      i = start;
    }
    if (pending !== "") settle(word);
    if (word !== undefined) {
      i += word.length;
      // Keywords are 2 to 10 lowercase letters: most words need no look-up.
      const keyword = word.length >= 2 && word.length <= 10 && c >= 0x61;
      // (`extends`, `keyof`, `infer` too: a line break after them ends nothing.)
      afterValue = !keyword || !(keywordsBeforeExpression.has(word) || nestingKeywords.has(word));
      afterHead = keyword && (word === "if" || word === "for" || word === "while" || word === "with");
      afterLabel = atStart && !(keyword && keywordsBeforeExpression.has(word));
      atStart = keyword && (word === "else" || word === "do");
      if (keyword && nestingKeywords.has(word)) {
        if (statementKeywords.has(word)) level.statement++;
        if (!nest()) return tooDeep();
      } else if (!chain()) return tooLong();
      continue;
    }
    const head = afterHead;
    const label = afterLabel;
    afterHead = afterLabel = atStart = false;
    switch (c) {
      case 0x28: // (
      case 0x5b: // [
      case 0x7b: // {
        if (!push(c === 0x28 && head ? "h" : source[i]!)) return tooDeep();
        afterValue = false;
        i++;
        continue;
      case 0x29: // )
      case 0x5d: // ]
      case 0x7d: {
        // }
        // The `}` of a `${ }` returns to the template's text, which is still open.
        const kind = pop();
        // After an `if (…)` a statement starts: a line break does not end anything, a `/` starts a regular expression.
        afterValue = kind !== "h";
        atStart = kind === "h";
        if (!chain()) return tooLong();
        i++;
        continue;
      }
      case 0x60: // `
        if (!push("`")) return tooDeep();
        i++;
        continue;
      case 0x22: // "
      case 0x27: // '
        i = skipString(source, i, c);
        afterValue = true;
        if (!chain()) return tooLong();
        continue;
      case 0x2c: // ,
        // A comma ends every expression begun at this level, though not the statements around it nor type arguments.
        if (level.balance === 0) {
          level.nesting = level.statement;
          level.chain = 0;
        }
        afterValue = false;
        i++;
        continue;
      case 0x3b: // ;
        pending = ";";
        afterValue = false;
        i++;
        continue;
      case 0x2f: // / (not a comment)
        if (afterValue) {
          if (source.charCodeAt(i + 1) === 0x3e /* > */ && level.angles > 0) level.angles--; // a JSX `<a />` closes
          afterValue = false;
          if (!chain()) return tooLong();
          i++;
        } else {
          i = skipRegExp(source, i);
          afterValue = true;
          if (!chain()) return tooLong();
        }
        continue;
    }
    // An operator.
    const next = source.charCodeAt(i + 1);
    let nests = false;
    let length = 1;
    if ((c === 0x2b || c === 0x2d) && next === c) {
      // `++`/`--` leave the expression as it was: `a++ / 2` divides
      i += 2;
      continue;
    } else if (c === 0x21 /* ! */ || c === 0x7e /* ~ */) {
      nests = true;
    } else if (c === 0x2b || c === 0x2d) {
      nests = !afterValue; // prefix `+`/`-`
    } else if (c === 0x3d /* = */) {
      const before = source.charCodeAt(i - 1);
      if (next === 0x3e /* > */) {
        nests = true; // =>
        length = 2;
      } else if (next === 0x3d) {
        length = next === source.charCodeAt(i + 2) ? 3 : 2; // == ===
      } else if (before === 0x21 /* ! */) {
        nests = false; // !=
      } else if (before === 0x3c || before === 0x3e) {
        const twice = source.charCodeAt(i - 2);
        nests = twice === 0x3c || twice === 0x3e; // <<= >>= >>>= assign, <= >= compare
      } else {
        nests = true; // = and the compound assignments
      }
    } else if (c === 0x3f /* ? */) {
      if (next === 0x3f) length = 2; // ??
      else if (next === 0x2e && !isDigit(source.charCodeAt(i + 2))) length = 2; // ?.
      else nests = true;
    } else if (c === 0x3a /* : */) {
      nests = true;
      if (label) {
        // A label nests the statement after it, which a comma does not end.
        level.statement++;
        atStart = true;
      }
    } else if (c === 0x2a /* * */ && next === 0x2a) {
      nests = true; // ** is right-associative
      length = 2;
    } else if (c === 0x3c /* < */) {
      if (next === 0x3c || next === 0x3d) {
        length = 2; // << <=
      } else if (next === 0x2f /* / */) {
        level.angles = Math.max(0, level.angles - 1); // a JSX `</a>` closes its element (this `<` is not counted)
        level.balance++;
        afterValue = false;
        i++;
        continue;
      } else {
        // A comparison, a type's arguments or a JSX element: counted until closed.
        level.angles++;
        level.balance++;
        afterValue = false;
        if (deep()) return tooDeep();
        i++;
        continue;
      }
    } else if (c === 0x3e /* > */) {
      if (next !== 0x3d && level.balance > 0) level.balance--;
    }
    afterValue = false;
    i += length;
    if (nests ? !nest() : !chain()) return nests ? tooDeep() : tooLong();
  }
  return undefined;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
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
