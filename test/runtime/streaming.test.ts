// lib.$ for zx users, through the real binary with real children (sh, printf, sort, cat):
// lines read as they come, pipes without a shell, prefixed output of parallel commands,
// quiet and verbose per command.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runTsexec, startTsexec, tempDir, writeTree } from "../helpers.js";

/** Runs `body` (the script's default export) as s.ts. */
async function run(body: string, args: readonly string[] = [], env: Record<string, string> = {}) {
  const dir = writeTree({ "s.ts": `import { defineScript } from "tsexec";\nexport default defineScript(${body});\n` });
  return runTsexec([...args, "s.ts"], { cwd: dir, env });
}

/** Processes whose command line holds `token`: what a run left behind. */
function running(token: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const state = readFileSync(`/proc/${entry}/stat`, "latin1").split(") ")[1]?.[0];
      if (state !== "Z" && readFileSync(`/proc/${entry}/cmdline`, "latin1").includes(token)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe("onLine: each line as it arrives", () => {
  it("sees a line while the child still runs (it waits on a FIFO the test opens only after the line was seen)", async () => {
    const dir = tempDir("streaming-");
    const fifo = join(dir, "go");
    execFileSync("mkfifo", [fifo]);
    const script = join(dir, "s.ts");
    const shell = `printf 'first\\r\\n'; echo oops >&2; read x < ${fifo}; printf second`;
    writeFileSync(
      script,
      [
        `import { defineScript } from "tsexec";`,
        `export default defineScript(({ lib }) =>`,
        `  lib.map((r) => console.log(JSON.stringify(r.stdout)),`,
        "    lib.$({ onLine: (line, stream) => console.error(`saw ${stream}: ${line}`) })`sh -c ${" + JSON.stringify(shell) + "}`));",
        ``,
      ].join("\n"),
    );
    const tsexec = startTsexec([script], tempDir("cache-"));
    await tsexec.seen(/saw stdout: first\n/);
    await tsexec.seen(/saw stderr: oops\n/); // (two pipes: either may be read first)
    // The child is still blocked reading the FIFO: it ends only once this write lets it go on.
    writeFileSync(fifo, "go\n");
    const r = await tsexec.done;
    expect(r.stderr.split("\n").slice(0, 2).sort()).toEqual(["saw stderr: oops", "saw stdout: first"]);
    expect(r.stderr.split("\n").slice(2)).toEqual(["saw stdout: second", ""]);
    expect(r.stdout).toBe(`${JSON.stringify("first\r\nsecond")}\n`);
    expect(r.code).toBe(0);
  });

  it("a callback that throws stops the command and fails the step with its error", async () => {
    const token = `31.${Date.now() % 100000}`;
    const r = await run(
      `({ lib }) => lib.$({ onLine: (line) => { throw new Error("no thanks: " + line); } })\`sh -c \${"echo hello; exec sleep ${token}"}\``,
    );
    expect(r.stderr).toMatch(/^error: no thanks: hello\n    at .*s\.ts:2:\d+\)?\n$/);
    expect(r.code).toBe(1);
    expect(running(token)).toEqual([]);
  });

  it("lib.exec takes the same options (onLine, prefix)", async () => {
    const r = await run(
      `({ lib }) => lib.bind(lib.exec("sh", ["-c", "echo a; echo b"], { onLine: (line) => console.error("line " + line) }), (r) =>
        lib.bind(lib.io(() => console.error("captured " + JSON.stringify(r.stdout))), () => lib.exec("printf", ["x\\ny"], { prefix: "> " })))`,
    );
    expect(r.stderr).toBe('line a\nline b\ncaptured "a\\nb\\n"\n');
    expect(r.stdout).toBe("> x\n> y\n");
    expect(r.code).toBe(0);
  });
});

describe(".pipe: stdout of one command into the stdin of the next, no shell", () => {
  it("a pipeline of three yields the last command's output; input feeds the first", async () => {
    const r = await run(
      `({ lib }) => lib.bind(lib.$\`printf \${"c\\nb\\na\\n"}\`.pipe(lib.$\`sort\`).pipe(lib.$\`cat -n\`).lines(), (sorted) =>
        lib.map((r) => console.log(JSON.stringify({ sorted, counted: r.stdout.trim(), command: r.command })),
          lib.$({ input: "x\\ny\\n" })\`cat\`.pipe(lib.$\`wc -l\`)))`,
    );
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ sorted: ["     1\ta", "     2\tb", "     3\tc"], counted: "2", command: "cat | wc -l" });
    expect(r.code).toBe(0);
  });

  it("the exit status of every command is checked, naming the one that failed", async () => {
    const first = await run(`({ lib }) => lib.$\`sh -c \${"echo partial; exit 3"}\`.pipe(lib.$\`cat\`)`);
    expect(first.stderr).toBe("error: sh -c 'echo partial; exit 3' (in sh -c 'echo partial; exit 3' | cat) failed with exit code 3 (its stderr was empty)\n");
    expect(first.code).toBe(1);
    const last = await run(`({ lib }) => lib.$\`printf x\`.pipe(lib.$\`sh -c \${"cat >/dev/null; echo bad >&2; exit 4"}\`)`);
    expect(last.stderr).toBe(
      "error: sh -c 'cat >/dev/null; echo bad >&2; exit 4' (in printf x | sh -c 'cat >/dev/null; echo bad >&2; exit 4') failed with exit code 4; the last lines of its stderr:\n  | bad\n",
    );
    expect(last.code).toBe(1);
    // nothrow on the writer accepts what a reader that stops early does to it.
    const head = await run(`({ lib }) => lib.map((lines) => console.log(lines.join(",")), lib.$({ nothrow: true })\`yes\`.pipe(lib.$\`head -n 2\`).lines())`);
    expect(head.stdout).toBe("y,y\n");
    expect(head.code).toBe(0);
  });

  it("both children are stopped when the pipeline is interrupted (lib.timeout)", async () => {
    const token = `32.${Date.now() % 100000}`;
    const r = await run(`({ lib }) => lib.timeout(500, lib.$\`sleep ${token}1\`.pipe(lib.$\`sleep ${token}2\`))`);
    expect(r.stderr).toMatch(/^error: .*sleep \d+\.\d+1 \| sleep \d+\.\d+2.* did not finish within 500 ms/);
    expect(r.code).toBe(1);
    expect(running(token)).toEqual([]);
  });
});

describe("prefix: whole lines on the terminal, for parallel hosts", () => {
  it("two commands in parallel, writing parts of lines at different times: every line whole, prefixed, the last partial line flushed", async () => {
    const r = await run(
      `({ lib }) => lib.all([
        lib.$({ prefix: "[web1] " })\`sh -c \${"printf 'one-'; sleep 0.3; printf 'whole\\\\nno newline'"}\`,
        lib.$({ prefix: "[web2] " })\`sh -c \${"sleep 0.1; printf 'two-'; sleep 0.4; printf 'whole\\\\n'; echo warn >&2"}\`,
      ])`,
    );
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").sort()).toEqual(["", "[web1] no newline", "[web1] one-whole", "[web2] two-whole"]);
    expect(r.stderr).toBe("[web2] warn\n");
  });
});

describe("quiet and verbose per command", () => {
  it("--verbose logs every command but a quiet one; .verbose() logs one and echoes its output without --verbose", async () => {
    const body = "({ lib }) => lib.bind(lib.$`echo loud`.text(), () => lib.$`echo hush`.quiet())";
    const verbose = await run(body, ["--verbose"]);
    expect(verbose.stderr.split("\n").filter((line) => line.includes("$ echo"))).toEqual(["tsexec: $ echo loud"]);
    const one = await run("({ lib }) => lib.bind(lib.$`echo seen`.verbose(), () => lib.$`echo unseen`)");
    expect(one.stderr).toBe("tsexec: $ echo seen\nseen\n");
    expect(one.stdout).toBe("");
    expect(one.code).toBe(0);
  });
});

describe("options are checked where the command is built", () => {
  it("prefix with stdio pipe, and .pipe given something else, are errors naming the mistake", async () => {
    const prefixed = await run(`({ lib }) => lib.$({ prefix: "x", stdio: "pipe" })\`true\``);
    expect(prefixed.stderr).toMatch(/^error: lib\.exec: prefix is for output that reaches the terminal \(stdio: "inherit"\), but stdio is "pipe"\n    at .*s\.ts:2:\d+\n$/);
    const piped = await run("({ lib }) => lib.$`true`.pipe(lib.unit(1) as never)");
    expect(piped.stderr).toMatch(/^error: \.pipe takes a command built by lib\.\$ \(lib\.\$`sort`\), got /);
  });
});
