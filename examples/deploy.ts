// Deploys a release to several hosts at once: each host gets its own steps
// (lib.$, no shell), all hosts run in parallel (lib.allSettled), each within a
// time limit (lib.timeout). A host that fails or runs out of time is reported
// and the others carry on; the exit code says whether every host succeeded.
// Ctrl-C stops every command on every host (process groups included).
//
//     tsexec examples/deploy.ts [--dry-run] [--timeout=MS] [HOST...]
//
// The hosts are simulated here, harmlessly: each is a directory under
// $TMPDIR/tsexec-deploy, and a host whose name starts with "slow" hangs, to
// show the timeout. On real hosts the same steps would go through `ssh`.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { defineScript, type IO } from "tsexec";

export default defineScript(({ args, lib }) => {
  const options = args.slice(1).filter((a) => a.startsWith("--"));
  const named = args.slice(1).filter((a) => !a.startsWith("--"));
  const dryRun = options.includes("--dry-run");
  const limit = Number(options.find((o) => o.startsWith("--timeout="))?.slice("--timeout=".length) ?? 5000);
  const hosts = named.length > 0 ? named : ["alpha", "beta", "gamma"];
  const fleet = join(tmpdir(), "tsexec-deploy");
  const version = new Date().toISOString().replace(/[:.]/g, "-");
  const artifact = join(fleet, `app-${version}.txt`);

  /** One step on a host: run it, or in a dry run say what would run. */
  const step = (host: string, argv: string[], cwd = fleet): IO<unknown> =>
    dryRun ? lib.map((line) => console.log(line), lib.$`echo ${host}: would run ${argv}`.text()) : lib.$({ cwd })`${argv}`;

  const deploy = (host: string): IO<string> => {
    const root = join(fleet, host);
    const release = join(root, "releases", version);
    const steps = [
      ["mkdir", "-p", release],
      ["cp", artifact, join(release, "app.txt")],
      ["ln", "-sfn", release, join(root, "current")],
      // A stand-in for the restart over ssh; "slow" hosts never answer.
      host.startsWith("slow") ? ["sleep", "600"] : ["sh", "-c", 'test -f current/app.txt && echo "$0 restarted"', host],
    ];
    const [makeRelease, ...inRoot] = steps;
    return lib.bind(step(host, makeRelease!), () => lib.map(() => host, lib.mapM((argv: string[]) => step(host, argv, root), inRoot)));
  };

  const prepare = dryRun ? lib.unit(undefined) : lib.io(() => writeFileSync(artifact, `release ${version}\n`));
  const deployAll = lib.allSettled(hosts.map((host) => lib.timeout(limit, deploy(host))));
  return lib.bind(
    lib.$`mkdir -p ${fleet}`.map(() => undefined),
    () =>
      lib.bind(prepare, () =>
        lib.bind(deployAll, (outcomes) => {
          outcomes.forEach((outcome, i) =>
            console.log(outcome._tag === "Right" ? `${hosts[i]}: deployed` : `${hosts[i]}: FAILED: ${outcome.left.message}`),
          );
          const failures = outcomes.filter((o) => o._tag === "Left").length;
          return failures === 0 ? lib.unit(undefined) : lib.exit(1);
        }),
      ),
  );
});
