// Signals from the first instant, and nothing tsexec started left running: the real binary,
// real signals, real processes, and /proc to find survivors by a marker in their environment.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launcher, tempDir, writeTree } from "../helpers.js";
import { npmEnv, packageLock, startRegistry, type Registry } from "../npm/registry.js";

/** Processes (not zombies, not `except`) whose environment holds `TSEXEC_TEST_MARKER=<marker>`. */
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

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** The state letter of a process (R, S, Z ...), undefined once it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]?.[0];
  } catch {
    return undefined;
  }
}

async function waitUntil(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Running {
  readonly child: ChildProcess;
  readonly marker: string;
  readonly cacheDir: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** The processes tsexec started that still run (tsexec itself left out). */
  readonly started: () => number[];
}

function startTsexec(args: string[], cwd: string, env: Record<string, string | undefined> = {}, cacheDir = tempDir("cache-")): Running {
  const marker = randomUUID();
  const fullEnv: Record<string, string | undefined> = { ...process.env, TSEXEC_TEST_MARKER: marker, TSEXEC_CACHE_DIR: cacheDir, ...env };
  for (const key of Object.keys(fullEnv)) if (fullEnv[key] === undefined) delete fullEnv[key];
  const child = spawn(process.execPath, [launcher, ...args], { cwd, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, marker, cacheDir, exit, started: () => marked(marker, child.pid) };
}

/** Files a stopped run must not leave in its cache: locks and temporaries. */
function leftovers(cacheDir: string): string[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir, { recursive: true, encoding: "utf8" }).filter((f) => /(^|\/)\.tmp-|(^|\/|\.)lock$|\.lock\.|\.tmp$/.test(f));
}

/** A TCP server that accepts and never answers: git waits on it until it is killed. */
async function silentServer(): Promise<{ server: Server; port: number }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe("signals before the program runs", () => {
  it("SIGTERM while a git reference is fetched: git is stopped, nothing left in the cache, exit 143", async () => {
    const { server, port } = await silentServer();
    try {
      const run = startTsexec([`git+http://127.0.0.1:${port}/repo.git?rev=${"a".repeat(40)}#s.ts`], tempDir());
      await waitUntil(() => run.started().some((pid) => cmdline(pid).includes("127.0.0.1")), "git connects to the server");
      run.child.kill("SIGTERM");
      const outcome = await run.exit;
      expect(outcome).toMatchObject({ code: 143, signal: null, stdout: "", stderr: "" });
      expect(marked(run.marker)).toEqual([]);
      expect(leftovers(run.cacheDir)).toEqual([]);
    } finally {
      server.close();
    }
  });

  it("SIGINT while a declared input is fetched: git is stopped, exit 130", async () => {
    const { server, port } = await silentServer();
    try {
      const dir = writeTree({
        "s.ts": `export const inputs = { dep: "git+http://127.0.0.1:${port}/dep.git?rev=${"b".repeat(40)}" };\nexport default ({ lib }: any) => lib.unit(0);\n`,
      });
      const run = startTsexec(["s.ts"], dir);
      await waitUntil(() => run.started().some((pid) => cmdline(pid).includes("127.0.0.1")), "git connects to the server");
      run.child.kill("SIGINT");
      expect(await run.exit).toMatchObject({ code: 130, signal: null, stderr: "" });
      expect(marked(run.marker)).toEqual([]);
      expect(leftovers(run.cacheDir)).toEqual([]);
    } finally {
      server.close();
    }
  });

  it.each(["tsgo", "tsc"])("SIGTERM during tsexec check (TSEXEC_CHECKER=%s): the checker is stopped, exit 143", async (checker) => {
    // Type-level work that keeps the checker busy for seconds.
    const lines = [`type D = "0"|"1"|"2"|"3"|"4"|"5"|"6"|"7"|"8"|"9";`];
    for (let i = 0; i < 300; i++) {
      lines.push(`type T${i}<N extends string> = N extends \`\${infer A}\${infer B}\` ? [A, ...T${i}<B>] : [];`);
      lines.push(`export const v${i}: T${i}<\`\${D}\${D}\${D}\`> = null as any;`);
    }
    const dir = writeTree({ "heavy.ts": lines.join("\n") + "\n" });
    const run = startTsexec(["check", "heavy.ts"], dir, { TSEXEC_CHECKER: checker });
    await waitUntil(() => run.started().some((pid) => (checker === "tsgo" ? /tsgo/ : /typescript/).test(cmdline(pid))), "the checker runs");
    run.child.kill("SIGTERM");
    expect(await run.exit).toMatchObject({ code: 143, signal: null, stdout: "", stderr: "" });
    expect(marked(run.marker)).toEqual([]);
  });
});

describe("install scripts run without blocking tsexec", () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry([
      // Its install script sleeps until it is stopped.
      { name: "slow-build", version: "1.0.0", scripts: { install: "sleep 600" } },
    ]);
  });
  afterAll(() => registry.close());

  const project = (script: string) =>
    writeTree({
      "package.json": JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "slow-build": "1" }, tsexec: { allowScripts: ["slow-build"] } }),
      "package-lock.json": packageLock(registry, { dependencies: { "slow-build": "1" } }, { "node_modules/slow-build": { name: "slow-build", version: "1.0.0", hasInstallScript: true } }),
      "t.ts": script,
      "lib.ts": `import slow from "slow-build";\nexport default slow;\n`,
    });

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s during a cold install (before the program): the script is stopped, the tree's lock and temporaries are gone: exit %i", async (signal, code) => {
    const dir = project(`import slow from "slow-build";\nexport default ({ lib }: any) => lib.io(() => console.log(slow));\n`);
    const run = startTsexec(["t.ts"], dir, npmEnv(registry.url));
    await waitUntil(() => run.started().some((pid) => cmdline(pid).startsWith("sleep 600")), "the install script runs");
    run.child.kill(signal);
    expect(await run.exit).toMatchObject({ code, signal: null, stdout: "" });
    expect(marked(run.marker)).toEqual([]);
    expect(leftovers(run.cacheDir)).toEqual([]);
  });

  it("SIGTERM while lib.import installs inside the program: the program is interrupted, its finalizer runs, exit 143", async () => {
    const dir = project(
      `export default ({ lib }: any) => lib.ensuring(lib.import("./lib.ts"), lib.io(() => console.log("finalizer ran")));\n`,
    );
    const run = startTsexec(["t.ts"], dir, npmEnv(registry.url));
    await waitUntil(() => run.started().some((pid) => cmdline(pid).startsWith("sleep 600")), "the install script runs");
    run.child.kill("SIGTERM");
    expect(await run.exit).toMatchObject({ code: 143, signal: null, stdout: "finalizer ran\n" });
    expect(marked(run.marker)).toEqual([]);
    expect(leftovers(run.cacheDir)).toEqual([]);
  });
});

describe("processes that leave tsexec's process group", () => {
  // A grandchild in a session of its own (setsid), ignoring SIGTERM, whose parent exits: it is
  // reparented to init, out of tsexec's tree and out of the child's process group.
  // Its output goes elsewhere: a process holding lib.exec's pipes keeps the step open, as in any shell.
  const escapee = `trap "" TERM; exec sleep 600 >/dev/null 2>&1`;

  it("a setsid child that ignores SIGTERM is SIGKILLed after the grace period when tsexec is interrupted", async () => {
    const dir = writeTree({
      "s.ts": `export default ({ lib }: any) => lib.$\`sh -c \${'setsid sh -c ' + "'" + ${JSON.stringify(escapee)} + "'" + ' & sleep 600'}\`;\n`,
    });
    const run = startTsexec(["--kill-grace", "0.3", "s.ts"], dir);
    await waitUntil(() => run.started().filter((pid) => cmdline(pid).startsWith("sleep 600")).length >= 2, "both sleeps run");
    run.child.kill("SIGINT");
    expect(await run.exit).toMatchObject({ code: 130, stderr: "" });
    expect(marked(run.marker)).toEqual([]);
  });

  it("a double-forked setsid child, and a child it started with an empty environment, are stopped when the program ends normally", async () => {
    // The escapee's own child carries no mark (env -i) and leads a session of its own: it is found as the escapee's descendant.
    const seconds = `600.${Date.now() % 1000}${process.pid}`;
    const unmarked = `/bin/sleep ${seconds}`;
    const escapeeWithChild = `trap "" TERM; env -i setsid ${unmarked} >/dev/null 2>&1 & exec sleep 600 >/dev/null 2>&1`;
    const dir = writeTree({
      "s.ts": [
        `export default ({ lib }: any) =>`,
        `  lib.bind(lib.$\`sh -c \${'(setsid sh -c ' + "'" + ${JSON.stringify(escapeeWithChild)} + "'" + ' &) ; exit 0'}\`, () =>`,
        `    lib.bind(lib.sleep(300), () => lib.io(() => console.log("done"))));`,
      ].join("\n"),
    });
    const withUnmarked = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p) && cmdline(Number(p)).trim() === unmarked);
    const run = startTsexec(["--kill-grace", "0.3", "s.ts"], dir);
    // Seen while the program runs (so their absence afterwards means tsexec stopped them).
    await waitUntil(() => run.started().some((pid) => cmdline(pid).startsWith("sleep 600")) && withUnmarked().length > 0, "the escapee and its child run");
    expect(await run.exit).toMatchObject({ code: 0, stdout: "done\n", stderr: "" });
    expect(marked(run.marker)).toEqual([]);
    expect(withUnmarked().filter((p) => ![undefined, "Z"].includes(stateOf(Number(p))))).toEqual([]);
  });

  it("a killed shell's grandchildren are gone before the step after lib.timeout runs", async () => {
    const dir = writeTree({
      "s.ts": [
        `import { readdirSync, readFileSync } from "node:fs";`,
        `const marker = process.env.TSEXEC_TEST_MARKER;`,
        `const alive = () => readdirSync("/proc").filter((p) => /^\\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {`,
        `  try { return readFileSync("/proc/" + p + "/environ", "latin1").includes("TSEXEC_TEST_MARKER=" + marker) && readFileSync("/proc/" + p + "/stat", "latin1").split(") ")[1][0] !== "Z"; } catch { return false; }`,
        `});`,
        `export default ({ lib }: any) =>`,
        `  lib.bind(lib.attempt(lib.timeout(300, lib.$\`sh -c \${"sleep 600 & sleep 600"}\`)), () =>`,
        `    lib.io(() => console.log("left after the timeout:", alive().length)));`,
      ].join("\n"),
    });
    const run = startTsexec(["s.ts"], dir);
    expect(await run.exit).toMatchObject({ code: 0, stdout: "left after the timeout: 0\n", stderr: "" });
  });
});

describe("nothing blocks the event loop", () => {
  it("lib.dlopen of a FIFO is refused at once, naming it, instead of blocking in open()", async () => {
    const dir = writeTree({ "s.ts": `export default ({ lib }: any) => lib.dlopen("./pipe.so", "int f(void)", []);\n` });
    execFileSync("mkfifo", [join(dir, "pipe.so")]);
    const run = startTsexec(["s.ts"], dir);
    const killer = setTimeout(() => run.child.kill("SIGKILL"), 20_000);
    const outcome = await run.exit;
    clearTimeout(killer);
    expect(outcome).toMatchObject({ code: 1, stdout: "" });
    expect(outcome.stderr).toBe(`error: lib.dlopen(${join(dir, "pipe.so")}, "int f(void)"): it is a FIFO, not a shared library; name a library file.\n`);
  });
});

describe("lib.exec's output is capped", () => {
  it("over maxBuffer the step fails with a clear error that lib.attempt catches, and finalizers run", async () => {
    const dir = writeTree({
      "s.ts": [
        `export default ({ lib }: any) =>`,
        `  lib.ensuring(`,
        `    lib.bind(lib.attempt(lib.exec("head", ["-c", "5000000", "/dev/zero"], { maxBuffer: 1000000 })), (r: any) =>`,
        `      lib.io(() => console.log(r._tag, r.left?.message))),`,
        `    lib.io(() => console.log("finalizer ran")));`,
      ].join("\n"),
    });
    const run = startTsexec(["s.ts"], dir);
    const outcome = await run.exit;
    expect(outcome).toMatchObject({ code: 0, stderr: "" });
    expect(outcome.stdout).toBe(
      "Left head -c 5000000 /dev/zero wrote more than 1000000 bytes to stdout and stderr (lib.exec's maxBuffer option; default 256 MiB); it was stopped. Raise maxBuffer, or send the output to a file\nfinalizer ran\n",
    );
    expect(marked(run.marker)).toEqual([]);
  });
});
