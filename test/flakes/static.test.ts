/** Reading `export const inputs` statically (src/runtime/loader/inputs-declaration.ts), the registry's reference rewriting, and the types. */
import fc from "fast-check";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { readInputsDeclaration } from "../../src/runtime/loader/inputs-declaration.js";
import { lookupRegistry, mayBeRegistryReference, withRefAndFragment } from "../../src/inputs/registry.js";
import { parseReference } from "../../src/inputs/reference.js";
import { isAppName } from "../../src/inputs/apps.js";
import { root, runCommand, writeTree } from "../helpers.js";

describe("readInputsDeclaration", () => {
  test("any object of string literals and { url, ref, submodules } objects reads back as written, with lines", () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);
    const text = fc.string({ minLength: 1, maxLength: 20 });
    const spec = fc.oneof(text, fc.record({ url: text, ref: text, submodules: fc.boolean() }, { requiredKeys: ["url"] }));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, spec), { selector: ([n]) => n, maxLength: 6 }), (entries) => {
        const body = entries.map(([n, s]) => `  ${n}: ${JSON.stringify(s)},`).join("\n");
        const source = `// header\nexport const inputs = {\n${body}\n} as const;\nexport default () => 0;\n`;
        const declared = readInputsDeclaration("/x/s.ts", source)!;
        expect(Object.keys(declared)).toEqual(entries.map(([n]) => n));
        entries.forEach(([n, s], i) => {
          expect(declared[n]!.spec).toEqual(s);
          expect(declared[n]!.line).toBe(3 + i);
        });
      }),
      { numRuns: 60 },
    );
  });

  test("forms: satisfies, a const exported by name, quoted keys, template literals; none without an inputs export", () => {
    expect(readInputsDeclaration("s.ts", `export const inputs = { "a-b": \`github:o/r\` } satisfies object;`)).toEqual({ "a-b": { spec: "github:o/r", line: 1 } });
    expect(readInputsDeclaration("s.ts", `const deps = { t: "github:o/r" };\nexport { deps as inputs };`)).toEqual({ t: { spec: "github:o/r", line: 1 } });
    expect(readInputsDeclaration("s.ts", `export const other = { inputs: 1 };`)).toBeUndefined();
    expect(readInputsDeclaration("s.ts", `export default () => 0;`)).toBeUndefined();
  });

  test("anything not static is an error naming file:line", () => {
    const cases: [string, RegExp][] = [
      [`export const inputs = f();`, /^s.ts:1: 'inputs' must be an object literal/],
      [`export const inputs = {\n  a: x,\n};`, /^s.ts:2: input 'a' must be a string literal/],
      [`export const inputs = {\n  [k]: "github:o/r",\n};`, /^s.ts:2: 'inputs' may hold only `name: value` entries/],
      [`export const inputs = { a: { url: "u", submodules: "no" } };`, /^s.ts:1: input 'a': 'submodules' must be true or false/],
      [`export const inputs = { a: { ref: "main" } };`, /^s.ts:1: input 'a' has no 'url'/],
      [`export const inputs = { a: { url: "u", ref: "x", rev: "y" } };`, /gives both 'ref' and 'rev'/],
      [`export const inputs = { a: "x", a: "y" };`, /input 'a' is declared twice/],
      [`export { inputs } from "./other.ts";`, /^s.ts:1: 'inputs' must be declared in the script/],
      [`export function inputs() {}`, /^s.ts:1: 'inputs' must be declared in the script/],
      [`export const inputs = { "a b": "x" };`, /input name 'a b' must be an identifier/],
      [`export const inputs = { a: "" };`, /input 'a' is an empty reference/],
    ];
    for (const [source, pattern] of cases) expect(() => readInputsDeclaration("s.ts", source)).toThrow(pattern);
  });
});

describe("registry references", () => {
  test("a ref after the name replaces the entry's; a fragment is kept or replaced", () => {
    expect(withRefAndFragment("github:acme/tools", "v3", "deploy")).toBe("github:acme/tools/v3#deploy");
    expect(withRefAndFragment("github:acme/tools/v2?dir=sub#x.ts", "v3", undefined)).toBe("github:acme/tools/v3?dir=sub#x.ts");
    expect(withRefAndFragment("git+https://h/r.git?ref=main&dir=d", "v3", "app")).toBe("git+https://h/r.git?dir=d&ref=v3#app");
    const hash = "a".repeat(40);
    expect(parseReference(withRefAndFragment("git+https://h/r.git?ref=main", hash, undefined)).rev).toBe(hash);
    expect(parseReference(withRefAndFragment("github:o/r", hash, undefined)).rev).toBe(hash);
  });

  test("lookup by name; names never have an extension", () => {
    const registry = { version: 1 as const, entries: { tools: "github:acme/tools" } };
    expect(lookupRegistry("tools/v3#deploy", registry)?.expanded).toBe("github:acme/tools/v3#deploy");
    expect(lookupRegistry("other#deploy", registry)).toBeUndefined();
    expect(mayBeRegistryReference("hello.ts")).toBe(false);
    expect(mayBeRegistryReference("tools#deploy")).toBe(true);
    expect(isAppName("deploy")).toBe(true);
    expect(isAppName("deploy.ts")).toBe(false);
    expect(isAppName("sub/x")).toBe(false);
  });
});

describe("types", () => {
  test("defineScript(inputs, fn) gives inputs.<name> the Input type; a misspelt name is a type error", async () => {
    const tsconfig = JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", types: ["node"], skipLibCheck: true },
      include: ["*.ts"],
    });
    const dir = writeTree({
      "tsconfig.json": tsconfig,
      "package.json": `{ "type": "module" }`,
      "good.ts": [
        `import { defineScript, type Input } from "tsexec";`,
        `export const inputs = { tools: "github:acme/tools/v2", cjson: { url: "https://h/c.git", ref: "v1", submodules: false } };`,
        `export default defineScript(inputs, ({ inputs, lib }) =>`,
        `  lib.bind(lib.import(inputs.tools, "lib.ts"), () => lib.unit(\`\${inputs.cjson}/x\` + inputs.tools.rev)));`,
        `export const t: Input = null as unknown as Input;`,
      ].join("\n"),
      "bad.ts": [
        `import { defineScript } from "tsexec";`,
        `export const inputs = { tools: "github:acme/tools/v2" };`,
        `export default defineScript(inputs, ({ inputs, lib }) => lib.unit(inputs.tolls.path));`,
      ].join("\n"),
    });
    mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
    symlinkSync(root, join(dir, "node_modules", "tsexec"), "dir");
    symlinkSync(join(root, "node_modules", "@types", "node"), join(dir, "node_modules", "@types", "node"), "dir");
    const r = await runCommand(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", dir], { cwd: dir });
    expect(r.stdout).toMatch(/^bad.ts\(3,\d+\): error TS\d+: Property 'tolls' does not exist on type/);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
  });
});
