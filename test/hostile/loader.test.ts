/**
 * The loader on inputs that crashed or misled it: source nested deep enough
 * to crash the transpiler, an import chain deeper than the call stack, an
 * extensionless TypeScript script, a cache directory nothing can be made in.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { runTsexec, tempDir, writeTree } from "../helpers.js";

const printsOne = `export default ({ lib }: any) => lib.io(() => console.log(1));\n`;

/** The `= [[[…` of a deep constant counts one level more than its brackets. */
const nestedMessage = "nested deeper than 1000 levels of brackets, template literals and operators that nest (=> ? : = ! typeof if else and the like)";

describe("over-deep source is refused with the file and line, not a crash", () => {
  for (const [what, depth, nest] of [
    ["brackets, 10,000 levels (oxc segfaulted)", 10_000, (n: number) => "[".repeat(n) + "]".repeat(n)],
    ["parentheses, 3,000 levels (es-module-lexer overflowed)", 3_000, (n: number) => "(".repeat(n) + "1" + ")".repeat(n)],
    ["template literals, 2,000 levels", 2_000, (n: number) => "`${".repeat(n) + "1" + "}`".repeat(n)],
  ] as const) {
    test(what, async () => {
      const dir = writeTree({ "dep.ts": `// line 1\n\nexport const data = ${nest(depth)};\n`, "main.ts": `import { data } from "./dep.ts";\nexport default ({ lib }: any) => lib.io(() => console.log(data));\n` });
      const out = await runTsexec([join(dir, "main.ts")]);
      expect(out.signal).toBe(null);
      expect(out.code).toBe(1);
      expect(out.stderr).toBe(
        `error: ${join(dir, "dep.ts")}:3: source ${nestedMessage}: tsexec does not transpile it; flatten the expression (build deep data at run time, or load it as JSON)\n`,
      );
    });
  }

  // Each crashed oxc (SIGSEGV, exit 139) at 100,000 levels in a .ts or .js script (a .js one after V8's stack
  // overflow, "Maximum call stack size exceeded", naming no file); most already overflowed V8 at 10,000 levels.
  const nestingWithoutBrackets: readonly (readonly [string, string, boolean])[] = [
    ["arrows", `export const f = ${"a => ".repeat(100_000)}0;`, true],
    ["conditionals", `const x = 1; export const v = ${"x ? 1 : ".repeat(100_000)}0;`, true],
    ["negations", `const x = 1; export const v = ${"!".repeat(100_000)}x;`, true],
    ["unary minus", `export const v = ${"- ".repeat(100_000)}1;`, true],
    ["typeof", `export const v = ${"typeof ".repeat(100_000)}1;`, true],
    ["await", `export const v = ${"await ".repeat(100_000)}1;`, true],
    ["assignments", `let a; export const v = ${"a = ".repeat(100_000)}1;`, true],
    ["exponents", `export const v = ${"2 ** ".repeat(100_000)}1;`, true],
    ["new", `class X {} export const v = () => ${"new ".repeat(100_000)}X;`, true],
    ["if", `let x = 0; ${"if (x) ".repeat(100_000)}x++;`, true],
    ["else if", `let x = 0; if (x) x++; ${"else if (x) x++; ".repeat(100_000)}`, true],
    ["type arguments", `type A<T> = T; export const v: ${"A<".repeat(10_000)}number${">".repeat(10_000)} = 1;`, false],
    // Not a crash but V8's stack overflow naming no file: a comma ends the arrows before it, not the labels.
    ["labels, a comma, then arrows", `${Array.from({ length: 990 }, (_, i) => `l${i}: `).join("")}0, ${"a => ".repeat(990)}0;`, true],
  ];
  for (const [what, nest, asJavaScript] of nestingWithoutBrackets) {
    for (const ext of asJavaScript ? ["ts", "mjs"] : ["ts"]) {
      test(`${what}, without brackets (.${ext})`, async () => {
        const dir = writeTree({ [`deep.${ext}`]: `// line 1\n\n${nest}\nexport default ({ lib }) => lib.io(() => console.log(1));\n` });
        const out = await runTsexec([join(dir, `deep.${ext}`)]);
        expect(out.signal).toBe(null);
        expect(out.code).toBe(1);
        expect(out.stderr).toBe(
          `error: ${join(dir, `deep.${ext}`)}:3: source ${nestedMessage}: tsexec does not transpile it; flatten the expression (build deep data at run time, or load it as JSON)\n`,
        );
      });
    }
  }

  // Left-associative chains nest to the left: they crashed oxc (not V8) at 100,000 operators.
  for (const [what, chain] of [
    ["sums", `export const v = ${"1 + ".repeat(100_000)}1;`],
    ["member accesses", `const a: any = {}; export const v = () => a${".b".repeat(100_000)};`],
    ["calls", `const f: any = () => f; export const v = () => f${"()".repeat(100_000)};`],
  ] as const) {
    test(`a chain of 100,000 ${what}`, async () => {
      const dir = writeTree({ "long.ts": `// line 1\n\n${chain}\nexport default ({ lib }: any) => lib.io(() => console.log(1));\n` });
      const out = await runTsexec([join(dir, "long.ts")]);
      expect(out.signal).toBe(null);
      expect(out.code).toBe(1);
      expect(out.stderr).toBe(
        `error: ${join(dir, "long.ts")}:3: source chains more than 20000 operands and operators in one expression: tsexec does not transpile it; flatten the expression (build deep data at run time, or load it as JSON)\n`,
      );
    });
  }

  test("nesting real programs use (a few hundred levels) still runs", async () => {
    const dir = writeTree({ "main.ts": `const data = ${"[".repeat(400)}${"]".repeat(400)};\nexport default ({ lib }: any) => lib.io(() => console.log(JSON.stringify(data).length));\n` });
    const out = await runTsexec([join(dir, "main.ts")]);
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("800\n");
  });
});

test("an import chain of 3,000 modules runs (the graph walk keeps a stack of its own)", async () => {
  const dir = tempDir("chain-");
  const length = 3000;
  for (let i = 0; i < length; i++) {
    writeFileSync(join(dir, `m${i}.ts`), i < length - 1 ? `export { v } from "./m${i + 1}.ts";\n` : `export const v: number = 42;\n`);
  }
  writeFileSync(join(dir, "main.ts"), `import { v } from "./m0.ts";\nexport default ({ lib }: any) => lib.io(() => console.log(v));\n`);
  const out = await runTsexec([join(dir, "main.ts")]);
  expect(out.stderr).toBe("");
  expect(out.stdout).toBe("42\n");
});

test("an extensionless shebang script with type annotations is TypeScript", async () => {
  const dir = writeTree({
    tool: `#!/usr/bin/env tsexec\ninterface Point { x: number }\nconst p: Point = { x: 3 };\nexport default ({ args, lib }: { args: string[]; lib: any }) => lib.io(() => console.log(p.x as number, args.length));\n`,
  });
  const out = await runTsexec(["./tool", "a"], { cwd: dir });
  expect(out.stderr).toBe("");
  expect(out.stdout).toBe("3 2\n");
});

describe("a cache directory nothing can be made in is one error, not a hang", () => {
  for (const cacheDir of ["/proc/self", "/dev/null", "/proc/self/fd/0/x"]) {
    test(cacheDir, async () => {
      const dir = writeTree({ "main.ts": printsOne });
      const out = await runTsexec([join(dir, "main.ts")], { cacheDir, timeoutMs: 20_000 });
      expect(out.signal).toBe(null);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(
        new RegExp(`^error: cannot write to the cache directory ${cacheDir}/scripts \\([A-Z]+\\): make it writable, or choose another with --cache-dir or \\$TSEXEC_CACHE_DIR\\n$`),
      );
    });
  }
});

test("a JavaScript script nested too deep for V8 names its file and line", async () => {
  const dir = writeTree({ "deep.mjs": `export const x = ${"[".repeat(10_000)}${"]".repeat(10_000)};\nexport default ({ lib }) => lib.unit(1);\n` });
  const out = await runTsexec([join(dir, "deep.mjs")]);
  expect(out.code).toBe(1);
  expect(out.stderr).toMatch(new RegExp(`^error: ${join(dir, "deep.mjs")}:1: source nested deeper than 1000 levels`));
});

test("script names with a backslash, %, spaces or other scripts run and import each other", async () => {
  const exporting = (v: string) => `export const v: string = ${JSON.stringify(v)};\nexport default ({ lib }: any) => lib.io(() => console.log(v));\n`;
  const dir = writeTree({
    "a\\b.ts": exporting("backslash"),
    "100%.ts": exporting("percent"),
    "with space.ts": exporting("space"),
    "ünï €.ts": exporting("unicode"),
    "main.ts": `import { v as a } from "./a\\\\b.ts";\nimport { v as b } from "./100%.ts";\nimport { v as c } from "./with space.ts";\nimport { v as d } from "./ünï €.ts";\nexport default ({ lib }: any) => lib.io(() => console.log([a, b, c, d].join(" ")));\n`,
  });
  const cacheDir = tempDir("cache-");
  for (const [script, printed] of [["a\\b.ts", "backslash"], ["./100%.ts", "percent"], ["main.ts", "backslash percent space unicode"]]) {
    const out = await runTsexec([script!], { cwd: dir, cacheDir });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe(`${printed}\n`);
  }
  const js = writeTree({ "c\\d.mjs": `export default ({ lib }) => lib.unit(1);\n` });
  const out = await runTsexec(["c\\d.mjs"], { cwd: js });
  expect(out.stderr).toBe(`error: cannot load ${join(js, "c\\d.mjs")}: Node does not import JavaScript files whose path contains a backslash; rename it\n`);
});

test("a syntax error's code frame quotes the source with its control characters escaped", async () => {
  const dir = writeTree({ "bad.ts": `const a = "\u001b[2J\u0007" +;\nexport default ({ lib }: any) => lib.unit(a);\n` });
  const out = await runTsexec([join(dir, "bad.ts")]);
  expect(out.code).toBe(1);
  expect(out.stderr).toMatch(new RegExp(`^error: ${join(dir, "bad.ts")}:1:\\d+: `));
  expect(out.stderr).toContain(`"\\x1b[2J\\x07"`);
  expect(out.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
});
