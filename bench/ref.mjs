// Reference benchmark: running an already-fetched pinned git reference vs the same
// script from a local path, in paired runs of the real launcher. Run alone:
// node bench/ref.mjs (after npm run build). Target: reference <= 1.2x local path.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { git, median, output, removeAll } from "./lib/git-fixture.mjs";

const root = new URL("..", import.meta.url).pathname;
const launcher = join(root, "shebang", "tsexec");
const script = `import { helper } from "./helper.ts";\nexport default ({ args, lib }: any) => lib.io(() => helper(args.length));\n`;
const helper = `export const helper = (n: number): number => n * 2;\n`;

export async function run(report) {
  const out = output(report);
  const base = mkdtempSync(join(tmpdir(), "tsexec-bench-ref-"));
  const work = join(base, "work");
  git(base, "init", "-q", "-b", "main", work);
  writeFileSync(join(work, "tool.ts"), script);
  writeFileSync(join(work, "helper.ts"), helper);
  git(work, "add", "-A");
  git(work, "-c", "user.name=Bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "tool");
  const commit = git(work, "rev-parse", "HEAD");
  const bare = join(base, "tool.git");
  git(base, "clone", "-q", "--bare", work, bare);
  const reference = `git+${pathToFileURL(bare).href}?rev=${commit}#tool.ts`;
  const local = join(work, "tool.ts");

  const cacheDir = mkdtempSync(join(tmpdir(), "tsexec-bench-ref-cache-"));
  const env = { ...process.env, TSEXEC_CACHE_DIR: cacheDir };
  const time = (target) => {
    const started = performance.now();
    execFileSync(process.execPath, [launcher, target, "a"], { env, stdio: "ignore" });
    return performance.now() - started;
  };
  // Warm-up: fetch the reference, fill both transpile caches.
  for (let i = 0; i < 3; i++) {
    time(reference);
    time(local);
  }
  const rounds = out.quick ? 10 : 30;
  const viaReference = [];
  const viaPath = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so drift affects both alike.
    if (i % 2) {
      viaReference.push(time(reference));
      viaPath.push(time(local));
    } else {
      viaPath.push(time(local));
      viaReference.push(time(reference));
    }
  }
  removeAll([base, cacheDir]);
  const ref = median(viaReference);
  const path = median(viaPath);
  out.table(`tsexec run of a pinned, already-fetched git reference vs a local path (${rounds} paired runs, medians)`, ["case", "ms", "vs local path"], [
    ["tsexec /local/path/tool.ts", path.toFixed(1), "1.00x"],
    ["tsexec git+file://…?rev=<hash>#tool.ts", ref.toFixed(1), out.target("pinned reference vs local path", ref / path, { op: "<=", value: 1.2 })],
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
