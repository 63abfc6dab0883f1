// lib.$'s argument splitting and the quoting of command lines in messages, on generated strings.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { splitTemplate } from "../../src/builtins/exec/template.js";
import { formatCommandLine, quoteArgument } from "../../src/builtins/exec/quote.js";

const tag = (strings: TemplateStringsArray, ...values: unknown[]) => splitTemplate(strings, values);

describe("lib.$ splitting", () => {
  it("each interpolation is exactly one argument whatever it holds; arrays are several (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.string()), fc.string(), (one, many, last) => {
        expect(tag`git  log ${one} ${many}\n--format=${last}`).toEqual(["git", "log", one, ...many, `--format=${last}`]);
      }),
    );
  });

  it("text touching an interpolation is glued to it; literal text splits on any whitespace", () => {
    expect(tag`cc -I${["a b", "c"]}/include -o ${"out file"}`).toEqual(["cc", "-Ia b", "c/include", "-o", "out file"]);
    expect(tag`echo ${[]} done`).toEqual(["echo", "done"]);
    expect(tag`echo ${""}`).toEqual(["echo", ""]);
    expect(tag`\tls\n -la `).toEqual(["ls", "-la"]);
    expect(() => tag`echo ${undefined}`).toThrow("lib.$: interpolation 1 is undefined; give a string, a number or an array of them");
    expect(tag`ls ${{ outPath: "/store/x" }}`).toEqual(["ls", "/store/x"]);
  });
});

describe("command lines in messages", () => {
  it("are what a POSIX shell would need, and never carry control characters (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary" }), { minLength: 1 }), (argv) => {
        const line = formatCommandLine(argv);
        // eslint-disable-next-line no-control-regex
        expect(line).not.toMatch(/[\x00-\x1f\x7f]/);
        for (const arg of argv) if (/^[\w@%+=:,./-]+$/.test(arg)) expect(quoteArgument(arg)).toBe(arg);
      }),
    );
    expect(formatCommandLine(["git", "commit", "-m", "it's done"])).toBe(`git commit -m 'it'\\''s done'`);
    expect(formatCommandLine(["printf", "a\nb"])).toBe(`printf $'a\\x0ab'`);
  });
});
