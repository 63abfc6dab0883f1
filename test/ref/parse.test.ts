/**
 * Reference parsing against generated input (fast-check): whatever is typed,
 * parseReference either returns a reference or throws a TsexecError (one
 * message for the user), and a parsed reference pinned to a commit parses
 * back to the same repository, directory and path at that commit.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { parseReference } from "../../src/inputs/reference.js";
import { isTsexecError } from "../../src/base/errors.js";

const hash = fc.stringMatching(/^[0-9a-f]{40}$/);
const piece = fc.oneof(
  fc.constantFrom("git+https://", "git+http://", "git+ssh://", "git+file://", "git+FILE://", "github:", "https://", "file:", "git+"),
  fc.constantFrom("host", "example.com:22", "user:pw@h", "[::1", "[::1]", "owner/repo", "/srv/r.git", "/", "//", ".."),
  fc.constantFrom("?", "&", "#", "%", "%25", "%zz", "rev=", "ref=", "dir=", "=", "main", "v1.0", "a b", "\\", ":", "::", "@", "é", "\u0000"),
  hash,
  fc.string({ maxLength: 6, unit: "binary" }),
);
const typed = fc.array(piece, { maxLength: 10 }).map((parts) => parts.join(""));

/** References that parse, built from valid parts. */
const valid = fc
  .record({
    form: fc.constantFrom("git+https://h.example/r.git", "git+file:///srv/r.git", "git+ssh://u@h.example/r", "github:o/r"),
    rev: fc.option(hash, { nil: undefined }),
    ref: fc.option(fc.constantFrom("main", "v1", "feature/x"), { nil: undefined }),
    dir: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
    path: fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }),
  })
  .map(({ form, rev, ref, dir, path }) => {
    const query = new URLSearchParams();
    if (rev !== undefined) query.set("rev", rev);
    else if (ref !== undefined) query.set("ref", ref);
    if (dir !== undefined) query.set("dir", dir);
    const q = query.toString();
    return `${form}${q ? `?${q}` : ""}${path === undefined ? "" : `#${encodeURIComponent(path)}`}`;
  });

describe("parseReference", () => {
  test("never throws anything but a TsexecError", () => {
    fc.assert(
      fc.property(typed, (text) => {
        try {
          parseReference(text);
        } catch (error) {
          if (!isTsexecError(error)) throw error;
        }
      }),
      { numRuns: 3000 },
    );
  });

  test("pinnedTo(commit) parses back to the same repository, dir and path, at that commit", () => {
    fc.assert(
      fc.property(valid, hash, (text, commit) => {
        const reference = parseReference(text);
        const pinned = parseReference(reference.pinnedTo(commit));
        expect({ url: pinned.url, dir: pinned.dir, path: pinned.path, rev: pinned.rev, ref: pinned.ref }).toEqual({
          url: reference.url,
          dir: reference.dir,
          path: reference.path,
          rev: commit,
          ref: undefined,
        });
      }),
      { numRuns: 2000 },
    );
  });
});
