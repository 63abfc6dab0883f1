// lib.exec, lib.$ and signals through the real binary: real children, real
// signals, and /proc to check that nothing from a run is left behind.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { launcher, root, runTsexec, tempDir, writeTree } from "../helpers.js";

/** Processes (other than `except`) whose environment holds `TSEXEC_TEST_MARKER=<marker>`: everything a run started. */
function marked(marker: string, except?: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === except) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(`TSEXEC_TEST_MARKER=${marker}`)) {
        const state = readFileSync(`/proc/${entry}/stat`, "latin1").split(") ")[1]?.[0];
        if (state !== "Z") found.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The processes below `root`, from /proc. */
function descendantsOf(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parentOf.set(Number(entry), Number(readFileSync(`/proc/${entry}/stat`, "latin1").split(") ")[1]!.split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    for (const [pid, ppid] of parentOf) {
      if ((ppid === root || found.includes(ppid)) && !found.includes(pid)) {
        found.push(pid);
        changed = true;
      }
    }
  }
  return found;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" });
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]![0] !== "Z";
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, what: string, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Running {
  child: ChildProcess;
  marker: string;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startTsexec(args: string[], cwd: string): Running {
  const marker = randomUUID();
  const child = spawn(process.execPath, [launcher, ...args], {
    cwd,
    env: { ...process.env, TSEXEC_TEST_MARKER: marker, TSEXEC_CACHE_DIR: tempDir("cache-") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, marker, exit };
}

const sleepers = [
  `export default ({ lib }: any) =>`,
  `  lib.ensuring(`,
  `    lib.all([lib.$\`sh -c \${"sleep 100 & sleep 100"}\`, lib.$\`sleep 100\`, lib.task(() => new Promise(() => {}))]),`,
  `    lib.io(() => console.log("finalizer ran")),`,
  `  );`,
].join("\n");

describe("signals interrupt the program and leave no process behind", () => {
  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const)("%s mid-exec (a grandchild under sh -c included): exit %i, finalizers run", async (signal, code) => {
    const dir = writeTree({ "s.ts": sleepers });
    const run = startTsexec(["s.ts"], dir);
    await waitUntil(() => marked(run.marker, run.child.pid).length >= 4, "the four sleeping processes run");
    run.child.kill(signal);
    const outcome = await run.exit;
    expect(outcome).toMatchObject({ code, stdout: "finalizer ran\n", stderr: "" });
    expect(marked(run.marker)).toEqual([]);
  });

  it("children that ignore SIGTERM are SIGKILLed after the grace period; a second SIGINT does not wait for it", async () => {
    const stubborn = `export default ({ lib }: any) => lib.$\`sh -c \${'trap "" TERM; sleep 100 & sleep 100; wait'}\`;\n`;
    const dir = writeTree({ "s.ts": stubborn });
    const graceful = startTsexec(["--kill-grace", "0.3", "s.ts"], dir);
    await waitUntil(() => marked(graceful.marker, graceful.child.pid).length >= 3, "the stubborn processes run");
    graceful.child.kill("SIGINT");
    expect((await graceful.exit).code).toBe(130);
    expect(marked(graceful.marker)).toEqual([]);

    // A grace of 10 minutes: only the second SIGINT can end this run within the test's time.
    const impatient = startTsexec(["--kill-grace", "600", "s.ts"], dir);
    await waitUntil(() => marked(impatient.marker, impatient.child.pid).length >= 3, "the stubborn processes run");
    impatient.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 200));
    expect(marked(impatient.marker, impatient.child.pid).length).toBeGreaterThan(0); // still in its grace period
    impatient.child.kill("SIGINT");
    expect((await impatient.exit).code).toBe(130);
    expect(marked(impatient.marker)).toEqual([]);
  });

  it("SIGINT mid-build: the builder is stopped, the build lock released and its temporary directory removed", async () => {
    const dir = writeTree({
      "b.ts": `export default ({ lib }: any) => lib.build(lib.runCommand("slow", {}, "sleep 100; echo done > $out"));\n`,
    });
    const run = startTsexec(["b.ts"], dir);
    // A builder's environment is its own (no marker): it is found among tsexec's descendants.
    let builder: number[] = [];
    await waitUntil(() => {
      builder = descendantsOf(run.child.pid!);
      return builder.some((pid) => cmdline(pid).startsWith("sleep"));
    }, "the builder sleeps");
    const cacheDir = readFileSync(`/proc/${run.child.pid}/environ`, "latin1").split("\0").find((v) => v.startsWith("TSEXEC_CACHE_DIR="))!.slice(17);
    run.child.kill("SIGINT");
    expect((await run.exit).code).toBe(130);
    expect(builder.filter(isRunning)).toEqual([]);
    const builds = join(cacheDir, "builds");
    expect(existsSync(builds) ? readdirSync(builds) : []).toEqual([]);
  });
});

describe("SIGINT mid-fetch", () => {
  it("git (spawned by simple-git, found through /proc) is stopped, the fetch lock released", async () => {
    // A server that accepts and never answers: git waits on it until it is killed.
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const dir = writeTree({
        "g.ts": `export default ({ lib }: any) => lib.builtins.fetchgit({ url: "http://127.0.0.1:${port}/repo.git", rev: "${"a".repeat(40)}" });\n`,
      });
      const run = startTsexec(["g.ts"], dir);
      let below: number[] = [];
      await waitUntil(() => {
        below = descendantsOf(run.child.pid!);
        return below.some((pid) => cmdline(pid).includes("127.0.0.1"));
      }, "git connects to the server");
      const cacheDir = readFileSync(`/proc/${run.child.pid}/environ`, "latin1").split("\0").find((v) => v.startsWith("TSEXEC_CACHE_DIR="))!.slice(17);
      run.child.kill("SIGINT");
      expect((await run.exit).code).toBe(130);
      expect(below.filter(isRunning)).toEqual([]);
      // fetchgit's lock is the file `git/<hash>/lock` while it fetches (docs/locks.md).
      expect(filesUnder(cacheDir).filter((f) => /(^|\/|\.)lock(\.|\/|$)/.test(f))).toEqual([]);
    } finally {
      server.close();
    }
  });
});

describe("a program that ends while children run leaves none running", () => {
  it("race losers and timed-out steps are stopped before the next step", async () => {
    const dir = writeTree({
      "r.ts": [
        `export default ({ lib }: any) =>`,
        `  lib.bind(lib.race([lib.$\`sleep 100\`, lib.map(() => "timer", lib.sleep(50))]), (w: string) =>`,
        `    lib.bind(lib.attempt(lib.timeout(100, lib.$\`sh -c \${"sleep 100 & sleep 100"}\`)), (t: any) =>`,
        `      lib.io(() => console.log(w, t.left.message))));`,
      ].join("\n"),
    });
    const run = startTsexec(["r.ts"], dir);
    const outcome = await run.exit;
    expect(outcome.stderr).toBe("");
    expect(outcome.stdout).toBe(`timer lib.timeout: sh -c 'sleep 100 & sleep 100' did not finish within 100 ms; it was interrupted\n`);
    expect(outcome.code).toBe(0);
    expect(marked(run.marker)).toEqual([]);
  });

  it("a failing step interrupts the others in lib.all: their children are killed, the failure is reported", async () => {
    const dir = writeTree({
      "f.ts": `export default ({ lib }: any) => lib.all([lib.$\`sleep 100\`, lib.$\`sh -c \${"echo it broke >&2; exit 4"}\`]);\n`,
    });
    const run = startTsexec(["f.ts"], dir);
    const outcome = await run.exit;
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(`error: sh -c 'echo it broke >&2; exit 4' failed with exit code 4; the last lines of its stderr:\n  | it broke\n`);
    expect(marked(run.marker)).toEqual([]);
  });

  it("lib.exit ends the program with its code after the finalizers, and attempt does not catch it", async () => {
    const dir = writeTree({
      "e.ts": `export default ({ lib }: any) => lib.attempt(lib.ensuring(lib.bind(lib.exit(7), () => lib.io(() => console.log("not reached"))), lib.io(() => console.log("cleanup"))));\n`,
    });
    expect(await runTsexec(["e.ts"], { cwd: dir })).toMatchObject({ code: 7, stdout: "cleanup\n", stderr: "" });
  });
});

describe("lib.exec and lib.$", () => {
  it("each interpolation is one argument, whatever it holds; nothing reaches a shell unless asked", async () => {
    const hostile = [
      "plain",
      "two words",
      "",
      "'; touch pwned; echo '",
      '"; touch pwned; echo "',
      "$(touch pwned)",
      "`touch pwned`",
      "a;b|c&d>e<f",
      "*",
      "~",
      "-n",
      "new\nline",
      "tab\there",
      "back\\slash",
      "ünïcødé ✓",
    ];
    const generated = fc.sample(fc.string({ unit: "binary", maxLength: 20 }).filter((s) => !s.includes("\0")), { numRuns: 40, seed: 42 });
    const strings = [...hostile, ...generated];
    const dir = writeTree({
      "strings.json": JSON.stringify(strings),
      "q.ts": [
        `import { readFileSync } from "node:fs";`,
        `export default ({ lib }: any) => {`,
        `  const strings: string[] = JSON.parse(readFileSync("strings.json", "utf8"));`,
        `  const one = (s: string) => lib.map((r: any) => r.stdout, lib.$\`printf %s\\\\0 \${s}\`);`,
        `  return lib.bind(lib.mapPar(one, strings, { concurrency: 8 }), (singles: string[]) =>`,
        `    lib.bind(lib.$\`printf %s\\\\0 \${strings}\`, (all: any) =>`,
        `      lib.bind(lib.$.shell\`printf '%s\\\\0' \${strings}\`, (viaShell: any) =>`,
        `        lib.io(() => process.stdout.write(JSON.stringify({ singles, all: all.stdout, viaShell: viaShell.stdout }))))));`,
        `};`,
      ].join("\n"),
    });
    const r = await runTsexec(["q.ts"], { cwd: dir });
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    expect(out.singles).toEqual(strings.map((s) => `${s}\0`));
    expect(out.all).toBe(strings.map((s) => `${s}\0`).join(""));
    expect(out.viaShell).toBe(strings.map((s) => `${s}\0`).join(""));
    expect(existsSync(join(dir, "pwned"))).toBe(false);
  });

  it("options: input, env, clearEnv, cwd, nothrow, timeout; text, lines and json helpers", async () => {
    const dir = writeTree({
      "sub/file.txt": "x",
      "o.ts": [
        `export default ({ lib }: any) => lib.mapM((io: any) => io, [`,
        `  lib.$\`tr a-z A-Z\`.map((r: any) => r.stdout),`,
        `  lib.exec("tr", ["a-z", "A-Z"], { input: "from input" }).map((r: any) => r.stdout),`,
        `  lib.$({ env: { GREETING: "hi there" } })\`sh -c \${"echo $GREETING"}\`.text(),`,
        `  lib.exec("/usr/bin/env", [], { clearEnv: true, env: { ONLY: "me" } }).map((r: any) => r.stdout),`,
        `  lib.$({ cwd: "sub" })\`ls\`.lines(),`,
        `  lib.$({ nothrow: true })\`sh -c \${"exit 3"}\`.map((r: any) => [r.exitCode, r.signal]),`,
        `  lib.$({ nothrow: true })\`sh -c \${"kill -9 $$"}\`.map((r: any) => [r.exitCode, r.signal]),`,
        `  lib.$\`echo {"a":[1,2]}\`.json(),`,
        `  lib.map((e: any) => e.left.message, lib.attempt(lib.exec("sleep", ["10"], { timeout: 50 }))),`,
        `  lib.map((e: any) => e.left.message, lib.attempt(lib.$\`no-such-program-here --flag\`)),`,
        `  lib.map((e: any) => e.left.message, lib.attempt(lib.$\`echo not json\`.json())),`,
        `]).map((xs: any) => console.log(JSON.stringify(xs, null, 1)));`,
      ].join("\n"),
    });
    const r = await runTsexec(["o.ts"], { cwd: dir, input: "from stdin\n" });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([
      "", // stdin is /dev/null unless input is given
      "FROM INPUT",
      "hi there",
      "ONLY=me\n",
      ["file.txt"],
      [3, null],
      [null, "SIGKILL"],
      { a: [1, 2] },
      "sleep 10 did not finish within 50 ms (its timeout option); it was stopped (its stderr was empty)",
      "cannot run no-such-program-here --flag: no-such-program-here was not found (is it installed and on $PATH?)",
      "the output of echo not json is not JSON: Unexpected token 'o', \"not json\n\" is not valid JSON",
    ]);
  });

  it("--verbose logs each command line as it starts; --show-trace names where the failing command was built", async () => {
    const dir = writeTree({
      "v.ts": [
        `export default ({ lib }: any) =>`,
        `  lib.bind(lib.$\`echo \${"hello world"}\`, () =>`,
        `    lib.$\`sh -c \${"echo \\u001b[31mred >&2; exit 2"}\`);`,
      ].join("\n"),
    });
    const verbose = await runTsexec(["--verbose", "v.ts"], { cwd: dir });
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toContain("tsexec: $ echo 'hello world'\n");
    expect(verbose.stderr).toContain("tsexec: $ sh -c $'echo \\x1b[31mred >&2; exit 2'\n");
    // The child's control characters are shown as escapes, never sent to the terminal.
    expect(verbose.stderr).toContain("  | \\x1b[31mred\n");
    expect(verbose.stderr).not.toContain("\u001b");
    const traced = await runTsexec(["--show-trace", "v.ts"], { cwd: dir });
    expect(traced.stderr).toMatch(/while running sh -c \$'echo \\x1b\[31mred >&2; exit 2' at .*v\.ts:3:\d+/);
  });
});

describe("the examples", () => {
  it("examples/deploy.ts deploys in parallel, reports a host that runs out of time, and says so in its exit code", async () => {
    const tmp = tempDir("deploy-");
    const deploy = join(root, "examples", "deploy.ts");
    const ok = await runTsexec([deploy, "alpha", "beta"], { env: { TMPDIR: tmp } });
    expect(ok).toMatchObject({ code: 0, stdout: "alpha: deployed\nbeta: deployed\n", stderr: "" });
    expect(readFileSync(join(tmp, "tsexec-deploy", "beta", "current", "app.txt"), "utf8")).toMatch(/^release /);
    const slow = startTsexec([deploy, "--timeout=300", "alpha", "slow1"], root);
    const outcome = await slow.exit;
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe("alpha: deployed\nslow1: FAILED: lib.timeout: sleep 600 did not finish within 300 ms; it was interrupted\n");
    expect(marked(slow.marker)).toEqual([]);
    const dry = await runTsexec([deploy, "--dry-run", "gamma"], { env: { TMPDIR: tmp } });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^gamma: would run mkdir -p .*\ngamma: would run cp .*\ngamma: would run ln -sfn .*\ngamma: would run sh -c .*\ngamma: deployed\n$/);
  });

  it("examples/nixops-sketch.ts builds every host, then activates every host", async () => {
    const tmp = tempDir("nixops-");
    const r = await runTsexec([join(root, "examples", "nixops-sketch.ts"), "web1", "db"], { env: { TMPDIR: tmp } });
    expect(r).toMatchObject({ code: 0, stderr: "", stdout: "web1 runs a web server (activated)\ndb runs a database (activated)\n" });
    expect(readFileSync(join(tmp, "tsexec-nixops", "db", "etc", "motd"), "utf8")).toBe("db runs a database\n");
  });
});
