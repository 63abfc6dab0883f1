// Running git references as a user pays for it: whole `tsexec` processes
// (spawn to exit), interleaved rounds (lib/measure.mjs).
//   local:    tsexec /local/path/tool.ts (warm transpile cache)
//   pinned:   tsexec git+file://…?rev=<hash>#tool.ts, already fetched
//   moving:   tsexec git+file://…?ref=main#tool.ts, resolved within the hour (no git)
//   refresh:  the same with --refresh (one git fetch per run)
//   cold:     the pinned reference into a fresh cache (fetch, archive, transpile)
// NODE_EXTRA_CA_CERTS policy: see lib/git-fixture.mjs (the same in every bench).
// Run alone: node bench/ref.mjs (after npm run build). Target: pinned <= 1.2x local path.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { caCerts, git, output, removeAll, strippedEnv } from "./lib/git-fixture.mjs";
import { interleave, median, pairedRatio, projectRoot, spreadCells, tempDir } from "./lib/measure.mjs";

const node = process.execPath;
const script = `import { helper } from "./helper.ts";\nexport default ({ args, lib }: any) => lib.io(() => helper(args.length));\n`;
const helper = `export const helper = (n: number): number => n * 2;\n`;

export async function run(report) {
  const out = output(report);
  const launcher = join(projectRoot, "shebang", "tsexec");
  const base = tempDir("tsexec-bench-ref-");
  const temporaries = [base];
  const fresh = (prefix) => {
    const dir = tempDir(prefix);
    temporaries.push(dir);
    return dir;
  };
  const work = join(base, "work");
  git(base, "init", "-q", "-b", "main", work);
  writeFileSync(join(work, "tool.ts"), script);
  writeFileSync(join(work, "helper.ts"), helper);
  git(work, "add", "-A");
  git(work, "-c", "user.name=Bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "tool");
  const commit = git(work, "rev-parse", "HEAD");
  const bare = join(base, "tool.git");
  git(base, "clone", "-q", "--bare", work, bare);
  const url = pathToFileURL(bare).href;
  const pinned = `git+${url}?rev=${commit}#tool.ts`;
  const moving = `git+${url}?ref=main#tool.ts`;
  const local = join(work, "tool.ts");
  const warmCache = fresh("tsexec-bench-ref-cache-");
  const tsexec = (args, env) => ({ command: node, args: [launcher, ...args, "a"], env: { ...strippedEnv, TSEXEC_CACHE_DIR: warmCache, ...env } });
  const freshCache = () => ({ env: { TSEXEC_CACHE_DIR: fresh("tsexec-bench-ref-cold-") } });

  const variants = [
    { name: "local", label: "tsexec /local/path/tool.ts", ...tsexec([local]) },
    { name: "pinned", label: "tsexec git+file://…?rev=<hash>#tool.ts (fetched)", ...tsexec([pinned]) },
    { name: "moving", label: "tsexec git+file://…?ref=main#tool.ts (resolved < 1 h ago)", ...tsexec([moving]) },
    { name: "refresh", label: "tsexec --refresh git+file://…?ref=main#tool.ts (git fetch)", ...tsexec(["--refresh", moving]) },
    { name: "cold", label: "tsexec git+file://…?rev=<hash>#tool.ts, fresh cache", ...tsexec([pinned]), prepare: freshCache },
  ];
  if (caCerts) {
    const ca = { NODE_EXTRA_CA_CERTS: caCerts };
    variants.push(
      { name: "local-ca", label: "local, NODE_EXTRA_CA_CERTS kept", ...tsexec([local], ca) },
      { name: "pinned-ca", label: "pinned, NODE_EXTRA_CA_CERTS kept", ...tsexec([pinned], ca) },
    );
  }
  const rounds = out.quick ? 6 : 20;
  let samples;
  try {
    samples = interleave(variants, { rounds, warmup: 2 });
  } finally {
    removeAll(temporaries);
  }
  const paired = (a, b) => pairedRatio(samples, a, b);
  out.table(
    `git references, whole tsexec processes (${rounds} interleaved rounds)`,
    ["case", "median", "p10", "p90"],
    variants.map((v) => [v.label, ...spreadCells(samples[v.name])]),
  );
  const ratios = [
    ["pinned reference / local path", out.target("pinned reference vs local path", paired("pinned", "local"), { op: "<=", value: 1.2 })],
    ["moving reference within the hour / local path", out.target("moving reference (cached) vs local path", paired("moving", "local"), { op: "<=", value: 1.2 })],
    ["--refresh (one git fetch) / local path (for information)", `${paired("refresh", "local").toFixed(2)}x`],
    ["cold (fresh cache) / local path (for information)", `${paired("cold", "local").toFixed(2)}x`],
  ];
  if (caCerts) ratios.push(["pinned / local, NODE_EXTRA_CA_CERTS kept (for information)", `${paired("pinned-ca", "local-ca").toFixed(2)}x`]);
  out.table("reference ratios (median of per-round ratios)", ["ratio", "measured"], ratios);
  if (caCerts) out.note("NODE_EXTRA_CA_CERTS is set here: the measured commands ran without it; the *-ca rows ran with it.");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
