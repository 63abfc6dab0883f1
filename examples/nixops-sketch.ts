// The nix-exec README's nixops sketch, in parallel: build every host's
// system (a derivation each, built at once with lib.mapPar), then activate
// every host (again in parallel, each within a time limit). Nothing is
// activated unless every build succeeded; if one build fails, the others are
// interrupted (their builders stopped) and the failure is reported.
//
//     tsexec examples/nixops-sketch.ts [HOST...]
//
// Harmless here: a "system" is a small script built into tsexec's store, and
// "activating" a host runs it against a directory under $TMPDIR/tsexec-nixops.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineScript, type Derivation, type IO } from "tsexec";

export default defineScript(({ args, lib }) => {
  const hosts = args.length > 1 ? args.slice(1) : ["web1", "web2", "db"];
  const network = join(tmpdir(), "tsexec-nixops");

  /** A host's system: what nixops would build from its configuration. */
  const system = (host: string): Derivation =>
    lib.runCommand(`system-${host}`, { HOST: host, ROLE: host.startsWith("db") ? "database" : "web server" }, [
      `mkdir -p $out/etc`,
      `echo "$HOST runs a $ROLE" > $out/etc/motd`,
      `printf '#!/bin/sh\\nset -e\\nmkdir -p "$1/etc"\\ncp "$(dirname "$0")/etc/motd" "$1/etc/motd"\\necho "$(cat "$1/etc/motd") (activated)"\\n' > $out/activate`,
    ].join("\n"));

  /** Copy the closure and switch: here, run the system's activate script on the host's directory. */
  const activate = (host: string, out: string): IO<string> =>
    lib.timeout(10_000, lib.$`sh ${join(out, "activate")} ${join(network, host)}`.text());

  const built = lib.mapPar((host: string) => lib.build(system(host)), hosts);
  return lib.bind(built, (outs: string[]) =>
    lib.map(
      (lines: string[]) => console.log(lines.join("\n")),
      lib.mapPar((i: number) => activate(hosts[i]!, outs[i]!), hosts.map((_, i) => i)),
    ),
  );
});
