/**
 * `--store nix`: derivations are Nix derivations, built by the installed Nix,
 * outputs in the Nix store. Loaded only when chosen (src/cli/main.ts), so runs
 * without it never load or need Nix.
 *
 * - A derivation's output path is computed in-process (./aterm.ts), exactly as
 *   nix-instantiate computes it, so `${drv}` costs no process.
 * - Finding built outputs: the first time a run needs one, every derivation it
 *   has made so far is looked up in ONE `nix-store --check-validity` call, and
 *   the ones present are registered as GC roots in one `nix-store --realise
 *   --add-root` call. Later derivations are looked up the same way, in batches.
 * - What is missing is instantiated with one `nix-instantiate` of a generated
 *   expression (the `.drv` files Nix writes are compared with the computed
 *   ones), then built with `nix-store --realise`, which uses Nix's own
 *   substituters, trusted keys and remote builders first.
 * - GC roots: indirect roots (as nix-build's `result` links) in
 *   `<cache-dir>/nix/roots/<pid>/`, removed when the run ends; the roots of
 *   runs that died are removed by the next run.
 */
import { closeSync, constants, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asyncStep, unit, type IO, type PrimitiveContext } from "../../../monad/io.js";
import { TsexecError } from "../../../base/errors.js";
import { printable } from "../../../base/printable.js";
import { knownDerivations, type Derivation } from "../derivation.js";
import { useOtherStore, type OtherStore } from "../value.js";
import { checkNixVersion, nixBuildFailed, nixBuildTimedOut, nixFailed, nixMessage, runNix, runNixSync } from "./client.js";
import { currentSystem, Translator } from "./translate.js";

export { Translator, currentSystem } from "./translate.js";
export { derivationPaths, nixBase32, makeTextPath, makeSourcePath } from "./aterm.js";
export { narHash } from "./nar.js";

/** Counts what the Nix store did in this process (tests and the bench read it). */
export const nixStats = { lookups: 0, instantiations: 0, realisations: 0 };

/** How many output paths the hint of earlier runs keeps (the most recently used). */
const maxHint = 4000;

/** The output paths earlier runs used (a hint only: every one is looked up again); at most 1 MiB read. */
function readHint(file: string, storeDir: string): string[] {
  let text: string;
  try {
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const buffer = Buffer.alloc(1 << 20);
      text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  const prefix = `${storeDir}/`;
  return text.split("\n").filter((line) => line.startsWith(prefix) && /^[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+._?=-]+$/.test(line.slice(prefix.length)));
}

/** How many lines of a failed build's log the error shows. */
const tailLines = 25;

export class NixStore implements OtherStore {
  readonly translator: Translator;
  /** Output paths known present (and rooted for this run) or absent, in this run. */
  private readonly present = new Set<string>();
  private readonly absent = new Set<string>();
  /** Outputs this run used, for the hint. */
  readonly used = new Set<string>();
  private readonly hintFile: string;
  private hintRead = false;
  private readonly inFlight = new Map<Derivation, Promise<string>>();
  private readonly rootsDir: string;
  private rootCount = 0;
  private readonly outputPattern: RegExp;

  constructor(
    readonly cacheDir: string,
    readonly storeDir: string = process.env.NIX_STORE_DIR || "/nix/store",
  ) {
    this.translator = new Translator({ storeDir, system: currentSystem(), cacheDir });
    this.rootsDir = join(cacheDir, "nix", "roots", String(process.pid));
    this.hintFile = join(cacheDir, "nix", "outputs");
    this.outputPattern = new RegExp(`${storeDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/([0-9a-df-np-sv-z]{32})-`, "g");
  }

  outPath(drv: Derivation): string {
    return this.translator.form(drv).outPath;
  }

  replaceOutputPaths(text: string, found: (drv: Derivation) => string): string {
    if (!text.includes(`${this.storeDir}/`)) return text;
    let out = "";
    let last = 0;
    for (const match of text.matchAll(this.outputPattern)) {
      const drv = this.translator.byHashPart.get(match[1]!);
      const nameStart = match.index! + match[0].length;
      // A store path of a derivation this process did not make stays plain text (as in tsexec's store).
      if (drv === undefined || !text.startsWith(drv.name, nameStart)) continue;
      out += text.slice(last, match.index) + found(drv);
      last = nameStart + drv.name.length;
    }
    return out + text.slice(last);
  }

  outputOf(drv: Derivation, ctx: PrimitiveContext): IO<string> {
    const form = this.translator.form(drv);
    this.used.add(form.outPath);
    if (this.isValid(drv)) return unit(form.outPath);
    return asyncStep(`building ${drv.name} with Nix`, () => this.realise(drv, ctx));
  }

  /** Whether `drv`'s output is in the Nix store (and rooted for this run); looks it up with others in one batch if not known yet. */
  isValid(drv: Derivation): boolean {
    const out = this.translator.form(drv).outPath;
    if (this.present.has(out)) return true;
    if (this.absent.has(out)) return false;
    this.lookUp(out);
    return this.present.has(out);
  }

  /**
   * One `nix-store --check-validity` for `out`, every derivation this run made and
   * has not looked up, and (on the first lookup of the run) the outputs earlier
   * runs with this cache used: a script that makes its derivations one at a time
   * finds them all with this one call. Those present get this run's GC roots in
   * one more call.
   */
  private lookUp(out: string): void {
    const paths = new Set<string>([out]);
    for (const drv of knownDerivations()) {
      try {
        paths.add(this.translator.form(drv).outPath);
      } catch {
        // A derivation Nix cannot take (its error comes when it is used).
      }
    }
    if (!this.hintRead) {
      this.hintRead = true;
      for (const path of readHint(this.hintFile, this.storeDir)) paths.add(path);
    }
    for (const path of paths) if (this.present.has(path) || this.absent.has(path)) paths.delete(path);
    if (paths.size === 0) return;
    nixStats.lookups++;
    const run = runNixSync("nix-store", ["--check-validity", "--print-invalid", ...paths]);
    if (run.status !== 0) throw nixFailed("looking up outputs in the Nix store (nix-store --check-validity)", run.stderr);
    const invalid = new Set(run.stdout.split("\n").filter((l) => l !== ""));
    const found = [...paths].filter((path) => !invalid.has(path));
    for (const path of invalid) this.absent.add(path);
    if (found.length > 0) this.addRoots(found);
    for (const path of found) this.present.add(path);
  }

  /** Remembers the outputs this run used, most recent first, for the next run's first lookup. */
  saveHint(): void {
    if (this.used.size === 0) return;
    const kept = [...this.used, ...readHint(this.hintFile, this.storeDir).filter((p) => !this.used.has(p) && !this.absent.has(p))].slice(0, maxHint);
    try {
      mkdirSync(join(this.cacheDir, "nix"), { recursive: true });
      writeFileSync(`${this.hintFile}.${process.pid}.tmp`, `${kept.join("\n")}\n`);
      renameSync(`${this.hintFile}.${process.pid}.tmp`, this.hintFile);
    } catch {
      // Only a hint: the next run looks its outputs up one batch later.
    }
  }

  /** Registers `paths` (valid store paths) as indirect GC roots of this run. */
  private addRoots(paths: readonly string[]): void {
    mkdirSync(this.rootsDir, { recursive: true });
    const run = runNixSync("nix-store", ["--realise", "--add-root", join(this.rootsDir, `r${++this.rootCount}`), ...paths]);
    if (run.status !== 0) throw nixFailed("registering GC roots (nix-store --realise --add-root)", run.stderr);
  }

  /** Builds `drv` (its inputs first) unless present; yields its output path. */
  realise(drv: Derivation, ctx: PrimitiveContext): Promise<string> {
    let pending = this.inFlight.get(drv);
    if (pending === undefined) {
      pending = this.realiseMissing(drv, ctx).finally(() => this.inFlight.delete(drv));
      this.inFlight.set(drv, pending);
    }
    return pending;
  }

  private async realiseMissing(drv: Derivation, ctx: PrimitiveContext): Promise<string> {
    const form = this.translator.form(drv);
    if (this.isValid(drv)) return form.outPath;
    this.instantiate(drv, ctx);
    if (form.drvPath === undefined) {
      // A toFile text: instantiating added it.
      this.addRoots([form.outPath]);
      this.present.add(form.outPath);
      return form.outPath;
    }
    await Promise.all(form.inputs.map((input) => this.realise(input, ctx)));
    const limits = buildLimits(form.timeout, form.maxSilentTime, ctx);
    const args = ["--realise", form.drvPath, "--add-root", join(this.rootsDir, drv.storeName)];
    if (limits.timeout !== undefined) args.push("--timeout", String(Math.ceil(limits.timeout)));
    if (limits.maxSilentTime !== undefined) args.push("--max-silent-time", String(Math.ceil(limits.maxSilentTime)));
    mkdirSync(this.rootsDir, { recursive: true });
    if (ctx.verbose) ctx.log(`$ nix-store ${args.join(" ")}`);
    nixStats.realisations++;
    const run = await runNix("nix-store", args, ctx.verbose ? (chunk) => process.stderr.write(chunk) : undefined);
    if (run.code === 0) {
      this.present.add(form.outPath);
      return form.outPath;
    }
    if (run.code === nixBuildFailed || run.code === nixBuildTimedOut) throw buildError(drv, form.drvPath, run.stderr, run.code, limits);
    throw nixFailed(`building '${drv.name}' (${form.drvPath})`, run.stderr);
  }

  /** Writes the `.drv` files (and toFile texts, sources) `drv` needs with one nix-instantiate, and checks their paths. */
  private instantiated = new Set<Derivation>();

  private instantiate(drv: Derivation, ctx: PrimitiveContext): void {
    if (this.instantiated.has(drv)) return;
    checkNixVersion(join(this.cacheDir, "nix", "nix-store-version"));
    const wanted = this.translator.closure([drv]).filter((d) => !this.instantiated.has(d));
    const expression = this.translator.expression(wanted);
    const dir = join(this.cacheDir, "nix", "expressions");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${wanted.at(-1)!.storeName}.${process.pid}.nix`);
    writeFileSync(`${file}.tmp`, expression);
    renameSync(`${file}.tmp`, file);
    if (ctx.verbose) ctx.log(`$ nix-instantiate --eval --strict --json --read-write-mode ${file}`);
    nixStats.instantiations++;
    try {
      const run = runNixSync("nix-instantiate", ["--eval", "--strict", "--json", "--read-write-mode", file]);
      if (run.status !== 0) throw nixFailed(`instantiating '${drv.name}' (nix-instantiate)`, run.stderr);
      const made = JSON.parse(run.stdout) as string[];
      wanted.forEach((d, i) => {
        const form = this.translator.form(d);
        const expected = form.drvPath ?? form.outPath;
        if (made[i] !== expected) {
          throw new TsexecError(
            `--store nix: Nix made ${printable(String(made[i]))} for '${d.name}' where tsexec computed ${expected}: this Nix computes paths differently (its system or store directory?); please report it with \`nix-store --version\``,
          );
        }
        this.instantiated.add(d);
      });
    } finally {
      rmSync(file, { force: true });
    }
  }
}

interface Limits {
  readonly timeout: number | undefined;
  readonly maxSilentTime: number | undefined;
  readonly timeoutSource: string;
}

function buildLimits(timeout: number | undefined, maxSilentTime: number | undefined, ctx: PrimitiveContext): Limits {
  const given = ctx.options["build-timeout"];
  const flag = given === undefined ? undefined : Number(given);
  if (given !== undefined && (typeof given !== "string" || !(flag! > 0) || !Number.isFinite(flag))) {
    throw new TsexecError(`--build-timeout expects a number of seconds greater than 0, got '${String(given)}'`);
  }
  const useFlag = flag !== undefined && (timeout === undefined || flag < timeout);
  return { timeout: useFlag ? flag : timeout, maxSilentTime, timeoutSource: useFlag ? "--build-timeout" : "the derivation's timeout" };
}

function buildError(drv: Derivation, drvPath: string, log: string, code: number, limits: Limits): TsexecError {
  const timedOut = code === nixBuildTimedOut;
  const lines = log.replace(/\n$/, "").split("\n").filter((l) => !/^(these|this) .*derivations? will be built|^\s+\/nix\/store\/\S+\.drv$|^building '|^error: builder for /.test(l));
  const tail = lines.slice(-tailLines).map((line) => `  | ${printable(line)}`).join("\n");
  const problem = timedOut
    ? `it ran longer than its time limit${limits.timeout !== undefined ? ` of ${limits.timeout} s (${limits.timeoutSource})` : ""}${limits.maxSilentTime !== undefined ? ` or was silent for ${limits.maxSilentTime} s (maxSilentTime)` : ""} and Nix killed it`
    : nixMessage(log);
  return new TsexecError(
    `building '${drv.name}' (${drvPath}) under Nix ${timedOut ? "timed out" : "failed"}: ${problem}. Last lines of its output:\n${tail}\n` +
      `Nothing was added to the Nix store; ${timedOut ? "raise the limit or make the build faster" : "fix the build"} and run again.`,
    code,
  );
}

/** Removes the root directories of runs that are gone (their pid is not alive). */
function sweepRoots(cacheDir: string): void {
  const dir = join(cacheDir, "nix", "roots");
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      process.kill(Number(entry), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(dir, entry), { recursive: true, force: true });
    }
  }
}

let installed: NixStore | undefined;

/** Makes the Nix store the store of this process's derivations (`--store nix`). */
export function useNixStore(ctx: PrimitiveContext): NixStore {
  if (installed?.cacheDir === ctx.cacheDir) return installed;
  const store = new NixStore(ctx.cacheDir);
  sweepRoots(ctx.cacheDir);
  const rootsDir = join(ctx.cacheDir, "nix", "roots", String(process.pid));
  process.once("exit", () => {
    store.saveHint();
    rmSync(rootsDir, { recursive: true, force: true });
  });
  useOtherStore(store);
  installed = store;
  return store;
}
