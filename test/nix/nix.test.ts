/**
 * `--store nix`: derivations are the ones nix-instantiate makes, built by the
 * installed Nix, shared through a signed binary cache, GC-rooted while a run
 * uses them; and every way it can go wrong says so in one line.
 *
 * The expected paths come from Nix itself (nix-instantiate on expressions written
 * here by hand, builtins.fetchGit for a fetched input), never from tsexec's code.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync, createReadStream, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { launcher, runTsexec, tempDir, until, writeTree } from "../helpers.js";
import { nix, nixEnv, nixEval, nixString, nixVersion, pathWithoutNix } from "./support.js";

if (nixVersion === undefined) console.log("Nix is unavailable (no nix-store on PATH): the --store nix tests are skipped");

const withNix = describe.runIf(nixVersion !== undefined);

/** Runs a script under --store nix with the test's Nix settings. */
function runNix(args: readonly string[], options: { cacheDir?: string; env?: Record<string, string> } = {}) {
  return runTsexec(["--store", "nix", ...args], { cacheDir: options.cacheDir, env: { ...nixEnv, ...options.env }, timeoutMs: 120_000 });
}

/** A fresh value for a derivation, so its output is never in the store before the test. */
const nonce = () => `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

function gitRepo(files: Record<string, string>, executable: string[] = []): { url: string; rev: string; dir: string } {
  const dir = writeTree(files);
  for (const name of executable) chmodSync(join(dir, name), 0o755);
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: dir, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } }).trim();
  git("init", "-q");
  git("add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one");
  return { url: pathToFileURL(dir).href, rev: git("rev-parse", "HEAD"), dir };
}

withNix("--store nix makes the derivations nix-instantiate makes", () => {
  it("args, env with quotes/newlines/$, a dependency, toFile, toFile naming an output, a local file and a fetched input: the same paths as Nix's", async () => {
    const tag = nonce();
    const repo = gitRepo({ "hello.txt": "hello from git\n", "run.sh": "#!/bin/sh\necho run\n" }, ["run.sh"]);
    const local = writeTree({ "note.txt": "a local file\n" });
    const script = writeTree({
      "paths.ts": `
        import { readFileSync } from "node:fs";
        export default ({ lib }) =>
          lib.bind(lib.builtins.fetchgit({ url: ${JSON.stringify(repo.url)}, rev: ${JSON.stringify(repo.rev)} }), (src) => {
            const a = lib.derivation({ name: "a", builder: "/bin/sh", args: ["-c", "echo \\"$greeting\\" > $out"], env: { greeting: "hi \\"there\\"\\n\\t$x \${y} \\\\ ${tag}" } });
            const f = lib.toFile("t.txt", "hello\\n");
            const g = lib.toFile("names-a.txt", \`a is at \${a}\\n\`);
            const b = lib.derivation({ name: "b", builder: "/bin/sh", args: ["-c", \`/bin/cat \${a} \${f} \${g} $src/hello.txt $note > $out\`], env: { dep: a, src, inside: \`\${src}/hello.txt\`, note: ${JSON.stringify(join(local, "note.txt"))} }, timeout: 30 });
            const c = lib.runCommand("c", { b }, 'cat "$b" > "$out"; echo "$PATH" >> "$out"');
            return lib.bind(lib.build(c), (built) => lib.io(() => console.log(JSON.stringify({ a: a.outPath, f: f.outPath, g: g.outPath, b: b.outPath, c: built, content: readFileSync(built, "utf8") }))));
          });
      `,
    });
    const outcome = await runNix([join(script, "paths.ts")]);
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
    const got = JSON.parse(outcome.stdout);
    const expression = `
      let
        src = builtins.fetchGit { url = ${nixString(repo.url)}; rev = ${nixString(repo.rev)}; };
        a = derivation { name = "a"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo \\"$greeting\\" > $out" ]; greeting = ${nixString(`hi "there"\n\t$x \${y} \\ ${tag}`)}; };
        f = builtins.toFile "t.txt" "hello\\n";
        g = derivation { name = "names-a.txt"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "printf %s \\"$text\\" > \\"$out\\"" ]; text = "a is at \${a}\\n"; };
        b = derivation { name = "b"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "/bin/cat \${a} \${f} \${g} $src/hello.txt $note > $out" ]; dep = a; src = "\${src}"; inside = "\${src}/hello.txt"; note = ${join(local, "note.txt")}; timeout = 30; };
      in { a = a.outPath; f = f; g = g.outPath; b = b.outPath; bDrv = b.drvPath; }
    `;
    const expected = nixEval(expression) as Record<string, string>;
    expect({ a: got.a, f: got.f, g: got.g, b: got.b }).toEqual({ a: expected.a, f: expected.f, g: expected.g, b: expected.b });
    // Built by Nix: the deriver and references are Nix's own records.
    expect(nix("nix-store", ["-q", "--deriver", got.b])).toBe(expected.bDrv);
    expect(nix("nix-store", ["-q", "--references", nix("nix-store", ["-q", "--deriver", got.c])]).split("\n")).toContain(expected.bDrv);
    expect(got.content).toContain(`hi "there"`);
    expect(got.content).toContain("hello from git");
    expect(got.content).toContain("a local file");
    expect(got.content).toContain("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"); // runCommand's fixed PATH
  });

  it("runs examples/print-args.ts unchanged, and a second run finds it built with one lookup and no build", async () => {
    const cacheDir = tempDir();
    const first = await runNix(["examples/print-args.ts", "a", "b c"], { cacheDir });
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe("examples/print-args.ts\na\nb c\n");
    const second = await runNix(["--verbose", "examples/print-args.ts", "x"], { cacheDir });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe("examples/print-args.ts\nx\n");
    expect(second.stderr).not.toMatch(/nix-store --realise \/nix\/store\/\S+\.drv|nix-instantiate/);
  });

  it("a script making 20 derivations one at a time finds them built, on its next run, with one lookup batch and one root batch", async () => {
    const tag = nonce();
    const dir = writeTree({
      "many.ts": `
        export default ({ lib }) => {
          const step = (i) => i === 20 ? lib.unit(null)
            : lib.bind(lib.build(lib.runCommand("many-" + i, { tag: "${tag}" }, 'echo "$tag" > "$out"')), () => step(i + 1));
          return step(0);
        };
      `,
    });
    const log = join(tempDir("nix-calls-"), "calls.txt");
    writeFileSync(log, "");
    const wrap = (program: string) => {
      const real = execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim();
      return `#!/bin/sh
echo "${program} $1" >> ${log}
exec ${real} "$@"
`;
    };
    const path = `${pathWithoutNix({ "nix-store": wrap("nix-store"), "nix-instantiate": wrap("nix-instantiate") })}:/usr/bin:/bin`;
    const cacheDir = tempDir();
    const first = await runNix([join(dir, "many.ts")], { cacheDir, env: { PATH: path } });
    expect(first.stderr).toBe("");
    expect(readFileSync(log, "utf8").match(/--realise/g)!.length).toBeGreaterThanOrEqual(20);
    writeFileSync(log, "");
    const second = await runNix([join(dir, "many.ts")], { cacheDir, env: { PATH: path } });
    expect(second.code).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("nix-store --check-validity\nnix-store --realise\n");
  });

  it("TSEXEC_STORE=nix is --store nix; --store with another name is refused", async () => {
    const dir = writeTree({ "p.ts": `export default ({ lib }) => lib.io(() => console.log(String(lib.toFile("x.txt", "x"))));` });
    const viaEnv = await runTsexec([join(dir, "p.ts")], { env: { ...nixEnv, TSEXEC_STORE: "nix" } });
    expect(viaEnv.stdout.trim()).toBe(nixEval(`builtins.toFile "x.txt" "x"`));
    const bad = await runTsexec(["--store", "guix", join(dir, "p.ts")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: --store \(or TSEXEC_STORE\) must be 'tsexec' \(the default\) or 'nix', got 'guix'\n/);
  });
});

withNix("building under Nix", () => {
  it("./configure --prefix=$out && make install, then a library linked against it is called with dlopen", async () => {
    const repo = gitRepo(
      {
        "configure": `#!/bin/sh\nprefix=/usr/local\nfor arg in "$@"; do case "$arg" in --prefix=*) prefix="\${arg#--prefix=}" ;; esac; done\necho "prefix = $prefix" > config.mk\n`,
        "Makefile": "include config.mk\nall: libgreet.so\nlibgreet.so: greet.c\n\tcc -shared -fPIC -O2 -o $@ greet.c\ninstall: all\n\tmkdir -p $(prefix)/lib $(prefix)/include\n\tcp libgreet.so $(prefix)/lib/\n\tcp greet.h $(prefix)/include/\n",
        "greet.h": "int greet_twice(int n);\n",
        "greet.c": `#include "greet.h"\nint greet_twice(int n) { return 2 * n; } /* ${nonce()} */\n`,
      },
      ["configure"],
    );
    const dir = writeTree({ "use.c": '#include <greet.h>\nint use_greet(int n) { return greet_twice(n) + 1; }\n' });
    writeTree(
      {
        "greet.ts": `
          export default ({ lib }) =>
            lib.bind(lib.builtins.fetchgit({ url: ${JSON.stringify(repo.url)}, rev: ${JSON.stringify(repo.rev)} }), (src) => {
              const greet = lib.runCommand("libgreet", { src }, 'cp -R "$src"/. . && chmod -R u+w . && ./configure --prefix="$out" && make install');
              const use = lib.runCommand("use-greet.so", { greet, source: ${JSON.stringify(join(dir, "use.c"))} },
                'cc -shared -fPIC -I"$greet/include" -o "$out" "$source" -L"$greet/lib" -Wl,-rpath,"$greet/lib" -lgreet');
              return lib.bind(lib.dlopen(use, "int use_greet(int n)", [20]), (answer) =>
                lib.map((out) => console.log(JSON.stringify({ answer, out, use: use.outPath })), lib.build(greet)));
            });
        `,
      },
      dir,
    );
    const outcome = await runNix([join(dir, "greet.ts")]);
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
    const { answer, out, use } = JSON.parse(outcome.stdout);
    expect(answer).toBe(41);
    expect(out).toMatch(/^\/nix\/store\/[0-9a-z]{32}-libgreet$/);
    expect(execFileSync("readelf", ["-d", use], { encoding: "utf8" })).toContain(`${out}/lib`);
    // The build saw store paths only: the source and the local file are store paths in the .drv.
    const drv = nix("nix-store", ["-q", "--deriver", use]);
    expect(readFileSync(drv, "utf8")).not.toContain(dir);
  });

  it("a signed binary cache served on 127.0.0.1 fills a store that lacks the outputs, with no build", async () => {
    const tag = nonce();
    const work = tempDir("nix-cache-");
    const counter = join(work, "builds.txt");
    writeFileSync(counter, "");
    const script = writeTree({
      "cached.ts": `
        export default ({ lib }) => {
          const lib1 = lib.runCommand("cached-${tag}", {}, 'echo built >> ${counter}; echo ${tag} > "$out"');
          return lib.bind(lib.build(lib1), (out) => lib.io(() => console.log(out)));
        };
      `,
    });
    const first = await runNix([join(script, "cached.ts")]);
    expect(first.stderr).toBe("");
    const out = first.stdout.trim();
    expect(readFileSync(counter, "utf8")).toBe("built\n");
    // CI: sign and copy the output to a file:// cache.
    nix("nix-store", ["--generate-binary-cache-key", "test-cache-1", join(work, "sk"), join(work, "pk")]);
    const cache = join(work, "cache");
    nix("nix", ["copy", "--to", `file://${cache}?secret-key=${join(work, "sk")}`, out]);
    // The laptop: a store without the output (deleted here), substituting from the cache over HTTP.
    nix("nix-store", ["--delete", out]);
    expect(existsSync(out)).toBe(false);
    const server = await serve(cache);
    try {
      const settings = `${nixEnv.NIX_CONFIG}\nsubstituters = http://127.0.0.1:${server.port}\ntrusted-public-keys = ${readFileSync(join(work, "pk"), "utf8").trim()}\n`;
      const second = await runNix([join(script, "cached.ts")], { env: { NIX_CONFIG: settings } });
      expect(second.stderr).toBe("");
      expect(second.stdout.trim()).toBe(out);
      expect(readFileSync(out, "utf8")).toBe(`${tag}\n`);
      expect(readFileSync(counter, "utf8")).toBe("built\n"); // substituted, not built again
      expect(server.requests.some((r) => r.endsWith(".narinfo"))).toBe(true);
    } finally {
      server.close();
    }
  });

  it("SIGINT during a Nix build stops nix-store and its builder; tsexec exits 130", async () => {
    const work = tempDir("nix-int-");
    const pidFile = join(work, "builder.pid");
    const dir = writeTree({
      "long.ts": `export default ({ lib }) => lib.build(lib.runCommand("long-${nonce()}", {}, 'echo $$ > ${pidFile}; exec sleep 60'));`,
    });
    const child = spawn(process.execPath, [launcher, "--store", "nix", join(dir, "long.ts")], {
      env: { ...process.env, ...nixEnv, TSEXEC_CACHE_DIR: tempDir() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", "the builder to start", 60_000);
    const builder = Number(readFileSync(pidFile, "utf8").trim());
    child.kill("SIGINT");
    expect(await done).toBe(130);
    await until(() => !existsSync(`/proc/${builder}`) || /State:\s+Z/.test(readFileSync(`/proc/${builder}/status`, "utf8")), "the builder to die", 10_000);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("outputs stay rooted while the script runs: nix-collect-garbage from inside the run keeps them; after the run they are collectable", async () => {
    const tag = nonce();
    const script = writeTree({
      "gc.ts": `
        import { existsSync, readFileSync } from "node:fs";
        export default ({ lib }) => {
          const kept = lib.runCommand("kept-${tag}", {}, 'echo kept > "$out"');
          return lib.bind(lib.build(kept), (out) =>
            lib.bind(lib.exec("nix-collect-garbage", []), () =>
              lib.io(() => console.log(JSON.stringify({ out, there: existsSync(out) && readFileSync(out, "utf8") })))));
        };
      `,
    });
    const cacheDir = tempDir();
    const outcome = await runNix([join(script, "gc.ts")], { cacheDir });
    expect(outcome.code).toBe(0);
    const { out, there } = JSON.parse(outcome.stdout);
    expect(there).toBe("kept\n");
    expect(readdirSync(join(cacheDir, "nix", "roots"))).toEqual([]); // the run's roots went with it
    nix("nix-collect-garbage", []);
    expect(existsSync(out)).toBe(false);
  });
});

withNix("--store nix: what goes wrong says so in one line", () => {
  const script = () =>
    writeTree({
      "b.ts": `export default ({ lib }) => lib.bind(lib.build(lib.runCommand("x-${nonce()}", {}, 'echo x > "$out"')), (o) => lib.io(() => console.log(o)));`,
    });

  it("no Nix on PATH", async () => {
    const outcome = await runTsexec(["--store", "nix", join(script(), "b.ts")], { env: { ...nixEnv, PATH: pathWithoutNix() } });
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(
      "error: --store nix: 'nix-store' is not on PATH: install Nix (https://nixos.org/download, or Debian's nix-bin) or run without --store nix (tsexec's own store needs nothing)\n",
    );
  });

  it("a Nix too old", async () => {
    const real = execFileSync("sh", ["-c", "command -v nix-store"], { encoding: "utf8" }).trim();
    const path = pathWithoutNix({
      "nix-store": `#!/bin/sh\nif [ "$1" = --version ]; then echo "nix-store (Nix) 2.3.16"; exit 0; fi\nexec ${real} "$@"\n`,
    });
    const outcome = await runTsexec(["--store", "nix", join(script(), "b.ts")], { env: { ...nixEnv, PATH: `${path}:/bin:/usr/bin` } });
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe("error: --store nix needs Nix 2.4 or later; the nix-store on PATH is 2.3: upgrade Nix\n");
  });

  it("a store this user cannot write", async () => {
    // Nix's state (its database, its locks) in a directory even root may not create: sysfs refuses it.
    const outcome = await runTsexec(["--store", "nix", join(script(), "b.ts")], { env: { ...nixEnv, NIX_STATE_DIR: "/sys/tsexec-nix-state" } });
    expect(outcome.code).toBe(1);
    expect(outcome.stderr.split("\n").filter((l) => l !== "")).toHaveLength(1);
    expect(outcome.stderr).toMatch(/^error: --store nix: .*: the Nix store cannot be written by this user \(.*\); run as the store's owner, or use the Nix daemon \(NIX_REMOTE=daemon\)\n$/);
  });

  it("a failing build exits 100 with its last lines; a build out of time exits 101", async () => {
    const dir = writeTree({
      "fail.ts": `export default ({ lib }) => lib.build(lib.runCommand("failing-${nonce()}", {}, 'echo about to fail; exit 3'));`,
      "slow.ts": `export default ({ lib }) => lib.build(lib.runCommand("slow-${nonce()}", { timeout: 1 }, 'sleep 20; echo x > "$out"'));`,
    });
    const failed = await runNix([join(dir, "fail.ts")]);
    expect(failed.code).toBe(100);
    expect(failed.stderr).toMatch(/^error: building 'failing-\S+' \(\/nix\/store\/\S+\.drv\) under Nix failed: builder for '\/nix\/store\/\S+\.drv' failed with exit code 3\. Last lines of its output:\n/);
    expect(failed.stderr).toContain("  | about to fail\n");
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    const started = Date.now();
    const slow = await runNix([join(dir, "slow.ts")]);
    expect(slow.code).toBe(101);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(slow.stderr).toMatch(/^error: building 'slow-\S+' \(\/nix\/store\/\S+\.drv\) under Nix timed out: it ran longer than its time limit of 1 s \(the derivation's timeout\) and Nix killed it\./);
  });

  it("a builder that is not an absolute path, and env names Nix reads itself", async () => {
    const dir = writeTree({
      "rel.ts": `export default ({ lib }) => lib.build(lib.derivation({ name: "rel", builder: "sh", args: ["-c", "x"] }));`,
      "name.ts": `export default ({ lib }) => lib.build(lib.runCommand("n", { system: "x" }, "true"));`,
    });
    const rel = await runNix([join(dir, "rel.ts")]);
    expect(rel.code).toBe(1);
    expect(rel.stderr).toMatch(/^error: --store nix: rel \(\S+-rel\): the builder 'sh' is not an absolute path: .* give its absolute path \(such as \/bin\/sh\) or a derivation\n$/);
    const named = await runNix([join(dir, "name.ts")]);
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(/^error: --store nix: n \(\S+-n\): env\.system cannot be set under --store nix/);
  });

  it("without --store nix nothing needs Nix: a build runs with no Nix on PATH", async () => {
    const dir = writeTree({ "t.ts": `export default ({ lib }) => lib.bind(lib.build(lib.toFile("t.txt", "t")), (o) => lib.io(() => console.log(o)));` });
    const cacheDir = tempDir();
    const outcome = await runTsexec([join(dir, "t.ts")], { cacheDir, env: { PATH: pathWithoutNix() } });
    expect(outcome.stderr).toBe("");
    expect(outcome.stdout).toMatch(new RegExp(`^${cacheDir}/store/[0-9a-f]{32}-t\\.txt\n$`));
  });
});

/** A static file server on 127.0.0.1 (a binary cache directory), recording the paths asked for. */
async function serve(dir: string): Promise<{ port: number; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push(path);
    const file = join(dir, path);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": statSync(file).size });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { port, requests, close: () => server.close() };
}
