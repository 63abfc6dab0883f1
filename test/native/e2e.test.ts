/** Native code through the real tsexec binary (dist/, built by `npm test`): print-args, argv globals, failed builds, concurrent and killed builds. */
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launcher, runTsexec, startTsexec, tempDir, until, writeTree } from "../helpers.js";

/** What the store holds besides tsexec's own build launcher and the validity markers. */
function storeEntries(cacheDir: string): string[] {
  const store = join(cacheDir, "store");
  return existsSync(store) ? readdirSync(store).filter((entry) => !entry.startsWith(".") && !/-tsexec-launch(\.c)?$/.test(entry)) : [];
}

describe("examples/print-args.ts", () => {
  it("compiles a Node-API module and prints each argument on its own line; the second run rebuilds nothing", async () => {
    const cacheDir = tempDir();
    const first = await runTsexec(["examples/print-args.ts", "one", "two words", "ünï"], { cacheDir });
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe("examples/print-args.ts\none\ntwo words\nünï\n");
    expect(first.code).toBe(0);
    const second = await runTsexec(["--verbose", "examples/print-args.ts", "again"], { cacheDir });
    expect(second.stdout).toBe("examples/print-args.ts\nagain\n");
    expect(second.stderr).toMatch(/tsexec: dlopen [0-9a-f]{32}-print-args\.so print/);
    expect(second.stderr).not.toMatch(/building/);
  });

  it("examples/libm.ts calls system libraries through prototypes, compiling nothing", async () => {
    const cacheDir = tempDir();
    const outcome = await runTsexec(["examples/libm.ts", "0", "four"], { cacheDir });
    expect(outcome.stdout).toBe('cos(0) = 1\nstrlen("four") = 4\npow(2, 10) = 1024\n');
    expect(outcome.code).toBe(0);
    // The argv library is built only for libraries that use tsexec_argc/argv.
    expect(storeEntries(cacheDir)).toEqual([]);
  });
});

describe("tsexec_argc / tsexec_argv", () => {
  it("hold the tsexec command line for native code", async () => {
    const dir = writeTree({
      "argv.c": '#include <tsexec.h>\nconst char *arg(int i) { return i < tsexec_argc ? tsexec_argv[i] : 0; }\nint count(void) { return tsexec_argc; }\n',
    });
    writeTree(
      {
        "argv.ts": `
          export default ({ lib }) => {
            const so = lib.runCommand("argv.so", { source: ${JSON.stringify(join(dir, "argv.c"))} }, 'cc -shared -fPIC -I"$TSEXEC_INCLUDE" -o "$out" "$source"');
            const count = lib.dlopen(so, "int count(void)", []);
            const arg = (i) => lib.dlopen(so, "const char *arg(int i)", [i]);
            return lib.bind(count, (n) => lib.map((argv) => console.log(JSON.stringify(argv)), lib.mapM(arg, [...Array(n).keys()])));
          };`,
      },
      dir,
    );
    const outcome = await runTsexec(["--verbose", join(dir, "argv.ts"), "a b", "-c"]);
    expect(outcome.code).toBe(0);
    expect(JSON.parse(outcome.stdout)).toEqual([launcher, "--verbose", join(dir, "argv.ts"), "a b", "-c"]);
  });
});

describe("failed builds", () => {
  it("print the builder's output tail, exit with 100 and leave nothing in the store", async () => {
    const cacheDir = tempDir();
    const dir = writeTree({
      "fail.ts": `export default ({ lib }) => lib.build(lib.runCommand("broken.so", {}, 'echo "compiling..."; echo "fatal: no" >&2; exit 2'));`,
    });
    const outcome = await runTsexec([join(dir, "fail.ts")], { cacheDir });
    expect(outcome.code).toBe(100);
    expect(outcome.stderr).toMatch(/^error: building 'broken\.so' \([0-9a-f]{32}-broken\.so\) failed: its builder 'sh' exited with code 2/);
    expect(outcome.stderr).toContain("  | compiling...\n  | fatal: no\n");
    expect(storeEntries(cacheDir)).toEqual([]);
  });
});

/**
 * A fresh cache and a script whose build records each run in `runs`, writes its
 * pid to `started`, then waits while `release` exists until `release.go` does
 * (quick once `release` is removed).
 */
function slowBuild(): { cacheDir: string; script: string; runs: string; release: string; started: string } {
  const work = tempDir();
  const [runs, release, started] = ["runs", "release", "started"].map((name) => join(work, name)) as [string, string, string];
  writeFileSync(release, "");
  const build = `echo $$ >> '${runs}'; echo $$ > '${started}'; while [ -e '${release}' ] && [ ! -e '${release}.go' ]; do sleep 0.05; done; echo built > "$out"`;
  const dir = writeTree({
    "slow.ts": `export default ({ lib }) => lib.map((out) => console.log(out), lib.build(lib.runCommand("slow", {}, ${JSON.stringify(build)})));`,
  });
  return { cacheDir: tempDir(), script: join(dir, "slow.ts"), runs, release, started };
}

async function waitFor(path: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!existsSync(path) || readFileSync(path, "utf8") === "") {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("concurrent and interrupted builds", () => {
  it("several processes building the same derivation build it once and all succeed", async () => {
    const { cacheDir, script, runs, release, started } = slowBuild();
    const builder = runTsexec([script], { cacheDir });
    await waitFor(started);
    // The others say (under --verbose) when they find the build locked: release the build only then.
    const waiters = Array.from({ length: 3 }, () => startTsexec(["--verbose", script], cacheDir));
    await Promise.all(waiters.map((waiter) => waiter.seen(/the build of [0-9a-f]{32}-slow is locked by pid \d+/)));
    writeFileSync(`${release}.go`, "");
    const outcomes = [await builder, ...(await Promise.all(waiters.map((waiter) => waiter.done)))];
    for (const outcome of outcomes) {
      expect(outcome.stderr).not.toMatch(/error|building/);
      expect(outcome.code).toBe(0);
    }
    expect(new Set(outcomes.map((outcome) => outcome.stdout)).size).toBe(1);
    expect(readFileSync(runs, "utf8").trim().split("\n")).toHaveLength(1);
  });

  for (const signal of ["SIGKILL", "SIGTERM"] as const) {
    it(`a build whose tsexec gets ${signal} leaves no process behind and nothing in the store; the next run succeeds`, async () => {
      const { cacheDir, script, release, started } = slowBuild();
      const child = spawn(process.execPath, [launcher, script], {
        env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir },
        stdio: "ignore",
      });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      await waitFor(started);
      const builder = Number(readFileSync(started, "utf8"));
      const group = processGroup(builder);
      expect(group).toBeDefined();
      expect(group).not.toBe(processGroup(process.pid));
      child.kill(signal);
      await exited;
      // The launcher kills the builder's whole group (the shell and its sleep) when tsexec dies.
      await until(() => groupMembers(group!).length === 0, `the builder's process group ${group} to be gone`);
      expect(storeEntries(cacheDir)).toEqual([]);
      rmSync(release);
      const next = await runTsexec([script], { cacheDir });
      expect(next.stderr).toBe("");
      expect(next.code).toBe(0);
      expect(storeEntries(cacheDir)).toHaveLength(1);
      expect(readFileSync(next.stdout.trim(), "utf8")).toBe("built\n");
      // The killed build's directory and lock are gone too.
      expect(readdirSync(join(cacheDir, "builds"))).toEqual([]);
    });
  }
});

/** The process group of `pid` (field 5 of /proc/<pid>/stat), if the process exists. */
function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

/** The pids of every live process in process group `group` (zombies excluded). */
function groupMembers(group: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(fields[2]) === group && fields[0] !== "Z";
      } catch {
        return false;
      }
    })
    .map(Number);
}


