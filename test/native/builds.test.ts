/**
 * Builds through the real tsexec binary: time limits (exit 101, the whole process
 * group killed), waits on a build lock that say who holds it, the sweep of what
 * killed builds left, and a real autoconf-style library built at its final path
 * and called through dlopen.
 */
import { describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { launcher, runTsexec, startTsexec, tempDir, until, writeTree } from "../helpers.js";

/** A script that builds one runCommand derivation with `env` (JS source) and `script`, and prints its output path. */
function buildScript(name: string, envSource: string, script: string): string {
  const dir = writeTree({
    "build.ts": `export default ({ lib }) => lib.map((out) => console.log(out), lib.build(lib.runCommand(${JSON.stringify(name)}, ${envSource}, ${JSON.stringify(script)})));`,
  });
  return join(dir, "build.ts");
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}



describe("time limits", () => {
  it("timeout: the build and everything it started are killed, tsexec exits 101 naming the derivation and the limit", async () => {
    const work = tempDir();
    const pids = join(work, "pids");
    const script = buildScript("sleepy", "{ timeout: 1 }", `sleep 30 & echo $! > '${pids}'; echo $$ >> '${pids}'; wait`);
    const outcome = await runTsexec([script]);
    expect(outcome.code).toBe(101);
    expect(outcome.stderr).toMatch(
      /^error: building 'sleepy' \([0-9a-f]{32}-sleepy\) timed out: it ran longer than its time limit of 1 s \(the derivation's timeout\) and was killed with its process group/,
    );
    for (const pid of readFileSync(pids, "utf8").trim().split("\n").map(Number)) expect(isRunning(pid)).toBe(false);
  });

  it("maxSilentTime: a builder silent for longer is killed, exit 101", async () => {
    const script = buildScript("quiet", "{ maxSilentTime: 1 }", "echo talking; sleep 30");
    const outcome = await runTsexec([script]);
    expect(outcome.code).toBe(101);
    expect(outcome.stderr).toContain("its builder printed nothing for 1 s (maxSilentTime) and was killed");
    expect(outcome.stderr).toContain("  | talking");
  });

  it("a builder that keeps talking is not silent, however long it runs", async () => {
    // 3.2 s in all, longer than the limit, but never more than 0.4 s without a line.
    const script = buildScript("chatty", "{ maxSilentTime: 3 }", 'for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.4; done; echo ok > "$out"');
    const outcome = await runTsexec([script]);
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
  });

  it("--build-timeout applies to every build, and the smaller limit wins", async () => {
    const script = buildScript("slow-flag", "{ timeout: 60 }", "sleep 30");
    const outcome = await runTsexec(["--build-timeout", "0.5", script]);
    expect(outcome.code).toBe(101);
    expect(outcome.stderr).toContain("its time limit of 0.5 s (--build-timeout)");
    const bad = await runTsexec(["--build-timeout=soon", script]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("error: --build-timeout expects a number of seconds greater than 0, got 'soon'\n");
  });

  it("limits are checked when the derivation is made", async () => {
    const dir = writeTree({ "bad.ts": `export default ({ lib }) => lib.build(lib.runCommand("x", { timeout: -1 }, "true"));` });
    const outcome = await runTsexec([join(dir, "bad.ts")]);
    expect(outcome.stderr).toContain("lib.runCommand (x): timeout must be a number of seconds greater than 0, got a number (-1)");
  });
});

describe("waiting on a build lock", () => {
  /** The build lock of the one derivation `script` builds, found by building it elsewhere first. */
  async function lockOf(script: string): Promise<string> {
    const probe = tempDir();
    const outcome = await runTsexec([script], { cacheDir: probe });
    expect(outcome.code).toBe(0);
    const storeName = outcome.stdout.trim().split("/").pop()!;
    return join("builds", `${storeName}.lock`);
  }

  it("a lock held in another pid namespace is waited for, not broken by its pid, and the wait says who holds it", async () => {
    const script = buildScript("locked", "{}", 'echo ok > "$out"');
    const cacheDir = tempDir();
    const lock = join(cacheDir, await lockOf(script));
    mkdirSync(join(lock, ".."), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: 2147483646, host: hostname(), pidns: "pid:[1]", since: Date.now() }));
    const run = startTsexec([script], cacheDir);
    await run.seen(/waiting for the build of [0-9a-f]{32}-locked: the lock .* is held by pid 2147483646 on host .* in pid namespace pid:\[1\]/);
    rmSync(lock);
    const outcome = await run.done;
    expect(outcome.code).toBe(0);
    expect(outcome.stderr).toMatch(/\(its owner is in another pid namespace, pid:\[1\], where its pid cannot be checked\); if that process is not running, remove the lock file\n/);
  });

  it("an empty lock is broken once its grace period is over", async () => {
    const script = buildScript("empty-lock", "{}", 'echo ok > "$out"');
    const cacheDir = tempDir();
    const lock = join(cacheDir, await lockOf(script));
    mkdirSync(join(lock, ".."), { recursive: true });
    writeFileSync(lock, "");
    const almost = (Date.now() - 2_500) / 1000; // half a second of the grace period left
    utimesSync(lock, almost, almost);
    const outcome = await runTsexec([script], { cacheDir });
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
  });
});

describe("leftovers of killed builds", () => {
  it("are swept by the next run that builds anything", async () => {
    const cacheDir = tempDir();
    const started = join(tempDir(), "started");
    const doomed = buildScript("doomed", "{}", `mkdir -p "$out"; head -c 100000 /dev/zero > "$out/partial"; echo junk > big; echo $$ > '${started}'; sleep 30`);
    const child = spawn(process.execPath, [launcher, doomed], { env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir }, stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    await until(() => existsSync(started) && readFileSync(started, "utf8") !== "", "the doomed build to start");
    child.kill("SIGKILL");
    await exited;
    const builder = Number(readFileSync(started, "utf8"));
    await until(() => !isRunning(builder), "the builder to die with tsexec");
    const left = () => [...readdirSync(join(cacheDir, "builds")), ...readdirSync(join(cacheDir, "store"))].filter((entry) => entry.includes("-doomed"));
    expect(left().length).toBeGreaterThan(0);
    const other = await runTsexec([buildScript("other", "{}", 'echo ok > "$out"')], { cacheDir });
    expect(other.code).toBe(0);
    expect(left()).toEqual([]);
  });
});

describe("a real library, built at its final path", () => {
  /** A git repository with an autoconf-style configure (a shell script honouring --prefix) and a Makefile. */
  function libraryRepository(): { url: string; rev: string } {
    const repo = writeTree({
      "configure": `#!/bin/sh
# Autoconf-style: ./configure --prefix=DIR writes config.mk for the Makefile.
prefix=/usr/local
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix="\${arg#--prefix=}" ;;
    *) echo "configure: unknown option $arg" >&2; exit 1 ;;
  esac
done
echo "prefix = $prefix" > config.mk
echo "configured for $prefix"
`,
      "Makefile": `include config.mk
all: libgreet.so greet.pc
libgreet.so: greet.c greet.h
\tcc -shared -fPIC -O2 -o $@ greet.c
greet.pc: greet.pc.in
\tsed 's|@prefix@|$(prefix)|' greet.pc.in > $@
install: all
\tmkdir -p $(prefix)/lib/pkgconfig $(prefix)/include
\tcp libgreet.so $(prefix)/lib/
\tcp greet.h $(prefix)/include/
\tcp greet.pc $(prefix)/lib/pkgconfig/
`,
      "greet.h": "int greet_twice(int n);\n",
      "greet.c": '#include "greet.h"\nint greet_twice(int n) { return 2 * n; }\n',
      "greet.pc.in": "prefix=@prefix@\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\nName: greet\nDescription: a tiny library\nVersion: 1.0\nLibs: -L${libdir} -lgreet\nCflags: -I${includedir}\n",
    });
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } }).trim();
    chmodSync(join(repo, "configure"), 0o755);
    git("init", "-q");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "greet 1.0");
    return { url: pathToFileURL(repo).href, rev: git("rev-parse", "HEAD") };
  }

  it("./configure --prefix=$out && make install, then a second derivation links against it and is called with dlopen", async () => {
    const { url, rev } = libraryRepository();
    const dir = writeTree({ "use.c": '#include <greet.h>\nint use_greet(int n) { return greet_twice(n) + 1; }\n' });
    writeTree(
      {
        "greet.ts": `
          import { readFileSync } from "node:fs";
          export default ({ lib }) =>
            lib.bind(lib.builtins.fetchgit({ url: ${JSON.stringify(url)}, rev: ${JSON.stringify(rev)} }), (src) => {
              const greet = lib.runCommand("libgreet", { src }, 'cp -R "$src"/. . && chmod -R u+w . && ./configure --prefix="$out" && make install');
              const use = lib.runCommand(
                "use-greet.so",
                { greet, source: ${JSON.stringify(join(dir, "use.c"))} },
                'cc -shared -fPIC -I"$greet/include" -o "$out" "$source" -L"$greet/lib" -Wl,-rpath,"$greet/lib" -lgreet',
              );
              return lib.bind(lib.dlopen(use, "int use_greet(int n)", [20]), (answer) =>
                lib.map((out) => console.log(JSON.stringify({ answer, out, pc: readFileSync(out + "/lib/pkgconfig/greet.pc", "utf8") })), lib.build(greet)));
            });
        `,
      },
      dir,
    );
    const cacheDir = tempDir();
    const outcome = await runTsexec([join(dir, "greet.ts")], { cacheDir });
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
    const { answer, out, pc } = JSON.parse(outcome.stdout);
    expect(answer).toBe(41);
    expect(out).toMatch(new RegExp(`^${cacheDir}/store/[0-9a-f]{32}-libgreet$`));
    expect(pc).toContain(`prefix=${out}\n`);
    // The library the second derivation linked is found through its rpath, at the store path.
    const useSo = readdirSync(join(cacheDir, "store")).find((entry) => entry.endsWith("-use-greet.so"))!;
    expect(execFileSync("readelf", ["-d", join(cacheDir, "store", useSo)], { encoding: "utf8" })).toContain(`${out}/lib`);
  });
});
