/**
 * The part of semver npm ranges need: parse versions, compare them, and
 * match them against ranges (`^1.2.0`, `~1.2`, `1.x`, `>=1 <2`, `1 - 2`,
 * `a || b`, `*`). Loaded only when `npm:` specifiers or an unlocked
 * package.json are resolved against a registry.
 */

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];
}

const versionPattern = /^\s*[=v]*\s*(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?\s*$/;

export function parseVersion(text: string): SemVer | undefined {
  const m = versionPattern.exec(text);
  if (!m) return undefined;
  const prerelease = m[4] === undefined ? [] : m[4].split(".").map((id) => (/^\d+$/.test(id) ? Number(id) : id));
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease };
}

export function compareVersions(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  // A prerelease sorts before its release; identifiers compare numerically, then as text.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length;
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return x - y;
    if (typeof x === "number") return -1;
    if (typeof y === "number") return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

type Operator = "<" | "<=" | ">" | ">=" | "=";
interface Comparator {
  readonly op: Operator;
  readonly version: SemVer;
}
/** A range: any of its sets matches when all of that set's comparators do. */
export type Range = readonly (readonly Comparator[])[];

const partialPattern = /^(?:v|=)?\s*([xX*]|\d+)(?:\.([xX*]|\d+)(?:\.([xX*]|\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?)?)?$/;

interface Partial {
  readonly major?: number;
  readonly minor?: number;
  readonly patch?: number;
  readonly prerelease: readonly (string | number)[];
}

function parsePartial(text: string): Partial | undefined {
  const m = partialPattern.exec(text);
  if (!m) return undefined;
  const part = (s: string | undefined) => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s));
  const major = part(m[1]);
  const minor = major === undefined ? undefined : part(m[2]);
  const patch = minor === undefined ? undefined : part(m[3]);
  const prerelease = patch === undefined || m[4] === undefined ? [] : m[4].split(".").map((id) => (/^\d+$/.test(id) ? Number(id) : id));
  return { major, minor, patch, prerelease };
}

const v = (major: number, minor: number, patch: number, prerelease: readonly (string | number)[] = []): SemVer => ({ major, minor, patch, prerelease });
/** The lowest version above every release of `major.minor.patch`: `x.y.z-0`. */
const floor = (major: number, minor: number, patch: number): SemVer => v(major, minor, patch, [0]);

/** Comparators for one token (`^1.2`, `>=3`, `1.x`); undefined if the token is not one. */
function comparatorsOf(token: string): Comparator[] | undefined {
  const op = /^(<=|>=|<|>|=|\^|~>?)?\s*(.*)$/.exec(token)!;
  const kind = op[1] ?? "";
  const p = parsePartial(op[2]!);
  if (!p) return undefined;
  const { major, minor, patch, prerelease } = p;
  if (major === undefined) return kind === "<" || kind === ">" ? [{ op: "<", version: v(0, 0, 0, [0]) }] : [];
  const full = minor !== undefined && patch !== undefined;
  switch (kind) {
    case "^": {
      const lower = v(major, minor ?? 0, patch ?? 0, prerelease);
      const upper =
        major > 0 || minor === undefined ? floor(major + 1, 0, 0) : minor > 0 || patch === undefined ? floor(0, minor + 1, 0) : floor(0, 0, patch + 1);
      return [{ op: ">=", version: lower }, { op: "<", version: upper }];
    }
    case "~":
    case "~>": {
      const lower = v(major, minor ?? 0, patch ?? 0, prerelease);
      const upper = minor === undefined ? floor(major + 1, 0, 0) : floor(major, minor + 1, 0);
      return [{ op: ">=", version: lower }, { op: "<", version: upper }];
    }
    case "":
    case "=":
      if (full) return [{ op: "=", version: v(major, minor, patch, prerelease) }];
      return [
        { op: ">=", version: v(major, minor ?? 0, 0) },
        { op: "<", version: minor === undefined ? floor(major + 1, 0, 0) : floor(major, minor + 1, 0) },
      ];
    case ">":
      if (full) return [{ op: ">", version: v(major, minor, patch, prerelease) }];
      return [{ op: ">=", version: minor === undefined ? v(major + 1, 0, 0) : v(major, minor + 1, 0) }];
    case ">=":
      return [{ op: ">=", version: v(major, minor ?? 0, patch ?? 0, prerelease) }];
    case "<":
      return [{ op: "<", version: full ? v(major, minor, patch, prerelease) : floor(major, minor ?? 0, 0) }];
    case "<=":
      if (full) return [{ op: "<=", version: v(major, minor, patch, prerelease) }];
      return [{ op: "<", version: minor === undefined ? floor(major + 1, 0, 0) : floor(major, minor + 1, 0) }];
  }
  return undefined;
}

/** Parses an npm range; undefined if it is not one (a dist-tag such as `latest`, say). */
export function parseRange(text: string): Range | undefined {
  const sets: Comparator[][] = [];
  for (const alternative of text.split("||")) {
    const trimmed = alternative.trim();
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(trimmed);
    if (hyphen) {
      const from = comparatorsOf(`>=${hyphen[1]}`);
      const to = comparatorsOf(`<=${hyphen[2]}`);
      if (!from || !to) return undefined;
      sets.push([...from, ...to]);
      continue;
    }
    // `>= 1.2` is one comparator: join operators to what follows.
    const tokens = trimmed.replace(/(<=|>=|<|>|=|\^|~>?)\s+/g, "$1").split(/\s+/).filter(Boolean);
    const set: Comparator[] = [];
    for (const token of tokens) {
      const comparators = comparatorsOf(token);
      if (!comparators) return undefined;
      set.push(...comparators);
    }
    sets.push(set);
  }
  return sets;
}

function test(c: Comparator, version: SemVer): boolean {
  const order = compareVersions(version, c.version);
  switch (c.op) {
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
    case "=":
      return order === 0;
  }
}

export function satisfies(version: SemVer, range: Range): boolean {
  return range.some((set) => {
    if (!set.every((c) => test(c, version))) return false;
    if (version.prerelease.length === 0) return true;
    // A prerelease matches only a set that names a prerelease of the same major.minor.patch.
    return set.some(
      (c) =>
        c.version.prerelease.length > 0 &&
        c.version.prerelease[0] !== 0 &&
        c.version.major === version.major &&
        c.version.minor === version.minor &&
        c.version.patch === version.patch,
    );
  });
}

/** The highest of `versions` that satisfies `range`. */
export function maxSatisfying(versions: Iterable<string>, range: Range): string | undefined {
  let best: { text: string; version: SemVer } | undefined;
  for (const text of versions) {
    const version = parseVersion(text);
    if (!version || !satisfies(version, range)) continue;
    if (best === undefined || compareVersions(version, best.version) > 0) best = { text, version };
  }
  return best?.text;
}
