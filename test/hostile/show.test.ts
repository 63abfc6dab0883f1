/**
 * `tsexec show` on a repository crafted against it: escape sequences in names
 * and doc comments, a huge file, source nested deep enough to crash a parser,
 * a file whose top-level code would act if run, and symbolic links out of the
 * checkout. show must list what it can, say why it skipped the rest, print no
 * control character, run nothing and read nothing outside the checkout.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { runTsexec, tempDir } from "../helpers.js";
import { WorkRepo } from "../git/fixtures.js";

const script = (doc: string) => `/** ${doc} */\nexport default ({ args, lib }: any) => lib.unit(args);\n`;

let url: string;
let commit: string;
let marker: string;
let outside: string;

beforeAll(() => {
  const root = tempDir("hostile-show-");
  marker = join(root, "ran-at-top-level");
  outside = join(root, "outside");
  mkdirSync(join(outside, "deeper"), { recursive: true });
  writeFileSync(join(outside, "secret.ts"), script("outside the checkout"));
  writeFileSync(join(outside, "deeper", "secret.ts"), script("outside, deeper"));
  const work = WorkRepo.create();
  commit = work.commit("hostile", {
    "a-plain.ts": script("A plain script."),
    "bell.ts": script("ring \u0007 clear \u001b[2J\u001b]0;title\u0007 cr \r over \u009b31m bidi \u202eevil\u202c end"),
    "evil\u001b[31mname\u0007.ts": script("named with escapes"),
    "new\nline.ts": script("a name with a line break"),
    "huge.ts": `${script("too big")}// ${"x".repeat(1100 * 1024)}\n`,
    "deep.ts": `${script("deep")}export const data = ${"[".repeat(10_000)}${"]".repeat(10_000)};\n`,
    // Not brackets: oxc-parser overflowed its native stack on these (only the child died); now the guard counts arrows too.
    // 190,000 levels (just under 1 MiB): far more than an 8 or 64 MiB main-thread stack holds.
    "arrows.ts": `${script("arrows")}export const f = ${"a => ".repeat(190_000)}1;\n`,
    "side-effect.ts": `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\n${script("Writes a marker when run.")}`,
    "z-after.ts": script("Listed after the crash."),
    "link.ts": { symlink: join(outside, "secret.ts") },
    "out": { symlink: outside },
    "root": { symlink: "/" },
  });
  url = `git+${pathToFileURL(work.publish(root, "hostile")).href}?rev=${commit}`;
});

describe("tsexec show on a hostile repository", () => {
  test("lists what it can, notes what it skipped, escapes control characters, runs nothing, leaves the checkout never", async () => {
    const out = await runTsexec(["show", url], { timeoutMs: 60_000 });
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const rows: [string, string][] = [
      ["a-plain.ts", "A plain script."],
      ["arrows.ts", "(not inspected: nested deeper than 1000 levels at line 3)"],
      ["bell.ts", "ring \\x07 clear \\x1b[2J\\x1b]0;title\\x07 cr \\r over \\x9b31m bidi \\u202eevil\\u202c end"],
      ["deep.ts", "(not inspected: nested deeper than 1000 levels at line 3)"],
      ["evil\\x1b[31mname\\x07.ts", "named with escapes"],
      ["huge.ts", "(not inspected: 1.1 MiB, over show's limit of 1 MiB per file)"],
      ["new\\nline.ts", "a name with a line break"],
      ["side-effect.ts", "Writes a marker when run."],
      ["z-after.ts", "Listed after the crash."],
    ];
    const width = Math.max(...rows.map(([path]) => path.length));
    expect(out.stdout).toBe([`${url} at commit ${commit}:`, ...rows.map(([path, text]) => `  ${path.padEnd(width)}  ${text}`), ""].join("\n"));
    expect(out.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(out.stdout).not.toContain("outside");
    expect(existsSync(marker)).toBe(false);
  });

  test("?dir= naming a symbolic link out of the checkout is refused, naming it", async () => {
    for (const dir of ["out", "root"]) {
      const out = await runTsexec(["show", `${url}&dir=${dir}`]);
      expect(out.code).toBe(1);
      // Refused where the reference is resolved (run and show alike), before anything is listed.
      expect(out.stderr).toMatch(new RegExp(`^error: reference '.*': the dir '${dir}' leads out of the checkout of .* \\(a symbolic link to .*\\); refusing to read it\\n$`));
      expect(out.stdout).toBe("");
    }
  });

  test("#path narrows before parsing: a huge or crashing file elsewhere is not touched", async () => {
    const out = await runTsexec(["show", `${url}#a-plain.ts`]);
    expect(out.stdout).toBe(`${url}#a-plain.ts at commit ${commit}:\n  a-plain.ts  A plain script.\n`);
  });

  test("a ?dir= that does not exist is one error line", async () => {
    const out = await runTsexec(["show", `${url}&dir=nothing`]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: reference '.*': no directory 'nothing' in file:.* at [0-9a-f]{40}\n$/);
  });
});
