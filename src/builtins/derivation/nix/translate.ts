/**
 * A tsexec derivation as the Nix derivation `--store nix` makes of it, and the
 * Nix expression that makes the same one with `nix-instantiate`.
 *
 * - `lib.derivation({ name, builder, args, env, timeout, maxSilentTime })` is
 *   `derivation { name; system = builtins.currentSystem; builder; args; … }`
 *   with each env entry an attribute, and `timeout`/`maxSilentTime` attributes
 *   when set (Nix 2.8 keeps them in the derivation but does not enforce them:
 *   tsexec passes them to `nix-store --realise` as `--timeout`/`--max-silent-time`).
 * - `lib.runCommand(name, env, script)` adds what tsexec's builder gets:
 *   builder `/bin/sh`, args `-e -c script`, `PATH` (a fixed system PATH, not
 *   the caller's, so the derivation is the same on every machine),
 *   `NODE_API_INCLUDE` and `TSEXEC_INCLUDE` (tsexec's header directories,
 *   entered into the store as sources), unless env sets them.
 * - `lib.toFile(name, text)` is `builtins.toFile name text`; one whose text holds
 *   an output path (which Nix's toFile refuses) is the derivation
 *   `/bin/sh -c 'printf %s "$text" > "$out"'` with `text` as an attribute.
 * - A fetchgit checkout named in a string (`<cache>/git/…/checkouts/<commit>`)
 *   is `builtins.path { path = <checkout>; name = "source"; }`: the string holds
 *   its store path, and the derivation's input sources hold it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TsexecError } from "../../../base/errors.js";
import { getConfiguration } from "../../../base/package.js";
import { sha256Hex } from "../../../base/sha256.js";
import { isRunCommand, storeToken, type Derivation } from "../derivation.js";
import { derivationPaths, makeSourcePath, makeTextPath, type NixDerivation } from "./aterm.js";
import { narHash } from "./nar.js";

/** What `--store nix` makes of one tsexec derivation. */
export interface NixForm {
  readonly drv: Derivation;
  /** The output path (a toFile text's own path). */
  readonly outPath: string;
  /** The `.drv` path; undefined for a `builtins.toFile` text, which has none. */
  readonly drvPath: string | undefined;
  /** The `.drv` text (as Nix writes it), or the toFile text. */
  readonly text: string;
  readonly moduloHash: Buffer | undefined;
  /** The tsexec derivations it depends on. */
  readonly inputs: readonly Derivation[];
  /** The Nix expression (a `let` binding's value) that makes it. */
  readonly expression: string;
  /** Sources it uses (local path -> store path), for the expression's bindings. */
  readonly sources: ReadonlyMap<string, Source>;
  /** The limits to pass to nix-store --realise. */
  readonly timeout: number | undefined;
  readonly maxSilentTime: number | undefined;
}

export interface Source {
  readonly path: string;
  readonly name: string;
  readonly storePath: string;
}

/** Env names Nix's derivation reads as something else than an attribute: refused under --store nix. */
const reservedNames = new Set(["name", "system", "builder", "args", "outputs", "__structuredAttrs", "__ignoreNulls", "__json", "__contentAddressed", "__impure"]);

/** The PATH runCommand's builder gets under Nix: fixed, so the derivation is the same on every machine. */
export const runCommandPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface NixSettings {
  readonly storeDir: string;
  readonly system: string;
  readonly cacheDir: string;
}

/** `builtins.currentSystem` for this machine, as Nix names it. */
export function currentSystem(): string {
  const arch = ({ x64: "x86_64", arm64: "aarch64", ia32: "i686", riscv64: "riscv64", ppc64: "powerpc64le" } as Record<string, string>)[process.arch] ?? process.arch;
  return `${arch}-${process.platform}`;
}

/** A number as Nix's derivation writes it: integers plainly, floats as C++'s std::to_string (6 decimals). */
function nixNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6);
}

/** A Nix string literal: `\`, `"` and `$` escaped (so `${` never starts an interpolation). */
export function nixString(text: string): string {
  return `"${text.replace(/[\\"$]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}"`;
}

/** A binding name for a derivation or source in the generated expression. */
export function bindingName(drv: Derivation): string {
  return `d${drv.hash}`;
}

export class Translator {
  private readonly forms = new Map<Derivation, NixForm>();
  private readonly sources = new Map<string, Source>();
  private readonly checkoutPattern: RegExp;
  /** Output hash part (32 characters) -> derivation, for output paths written into strings. */
  readonly byHashPart = new Map<string, Derivation>();

  constructor(readonly settings: NixSettings) {
    const git = `${escapeRegExp(settings.cacheDir)}/git/[0-9a-f]{32}/checkouts/(?:[0-9a-f]{40}|[0-9a-f]{64})(?:-nosub)?`;
    this.checkoutPattern = new RegExp(`${git}(?=/|$|[^A-Za-z0-9+._?=-])`, "g");
  }

  form(drv: Derivation): NixForm {
    let form = this.forms.get(drv);
    if (form === undefined) {
      form = this.translate(drv);
      this.forms.set(drv, form);
      this.byHashPart.set(form.outPath.slice(this.settings.storeDir.length + 1, this.settings.storeDir.length + 33), drv);
    }
    return form;
  }

  /** A local directory entered into the store as a source (NAR-hashed; remembered per process). */
  source(path: string, name: string): Source {
    const key = `${name}\u0000${path}`;
    let source = this.sources.get(key);
    if (source === undefined) {
      source = { path, name, storePath: makeSourcePath(this.settings.storeDir, name, this.narHashOf(path)) };
      this.sources.set(key, source);
    }
    return source;
  }

  /**
   * A fetchgit checkout never changes (it is named by its commit and read-only), so its
   * NAR hash is kept in the cache; other paths are hashed on each run that uses them.
   */
  private narHashOf(path: string): Buffer {
    if (!this.checkoutPattern.source || !new RegExp(`^${this.checkoutPattern.source}$`).test(path)) return narHash(path);
    const file = join(this.settings.cacheDir, "nix", "nar-hashes", sha256Hex(path).slice(0, 32));
    try {
      const kept = readFileSync(file, "utf8");
      if (/^[0-9a-f]{64}$/.test(kept)) return Buffer.from(kept, "hex");
    } catch {
      // Not computed yet.
    }
    const hash = narHash(path);
    mkdirSync(join(this.settings.cacheDir, "nix", "nar-hashes"), { recursive: true });
    writeFileSync(`${file}.${process.pid}.tmp`, hash.toString("hex"));
    renameSync(`${file}.${process.pid}.tmp`, file);
    return hash;
  }

  /**
   * A value that is exactly the absolute path of an existing file or directory
   * (not a system directory, not in a store) is a local path the build uses: it
   * enters the store as a source named by its last component, as `./file` does in
   * a Nix expression. Other strings stay strings, as in Nix.
   */
  private localPath(text: string): Source | undefined {
    if (!text.startsWith("/") || text.includes("\n") || this.checkoutPattern.source === "" || systemPaths.test(text) || text.startsWith(`${this.settings.storeDir}/`)) return undefined;
    if (text.startsWith(`${this.settings.cacheDir}/store/`)) return undefined;
    const checkout = new RegExp(`^${this.checkoutPattern.source}$`).test(text);
    // A path inside a checkout is the checkout's source plus the rest, as `"${src}/sub"` is in Nix.
    if (!checkout && new RegExp(`^${this.checkoutPattern.source}`).test(text)) return undefined;
    if (!checkout && !existsSync(text)) return undefined;
    const base = text.slice(text.lastIndexOf("/") + 1);
    return this.source(text, checkout || !/^[A-Za-z0-9+_?=-][A-Za-z0-9+._?=-]*$/.test(base) ? "source" : base);
  }

  private translate(drv: Derivation): NixForm {
    const where = `--store nix: ${drv.name} (${drv.storeName})`;
    const inputs = new Map<string, string>(); // .drv path -> modulo hash
    const srcs = new Set<string>();
    const sources = new Map<string, Source>();
    const used: Derivation[] = [];
    const byStoreName = new Map(drv.inputs.map((input) => [input.storeName, input]));
    const tokenPattern = new RegExp(`${escapeRegExp(storeToken)}/([^/\\s"'\`;:]+)`, "g");

    /** Recipe text -> the string Nix sees, and the Nix expression making it (with its context). */
    const render = (text: string): { value: string; expression: string } => {
      const local = this.localPath(text);
      if (local !== undefined) {
        sources.set(local.path, local);
        srcs.add(local.storePath);
        return { value: local.storePath, expression: `"\${${sourceBinding(local)}}"` };
      }
      const parts: { literal: string; binding?: string; value?: string }[] = [];
      const pieces = new RegExp(`${tokenPattern.source}|${this.checkoutPattern.source}`, "g");
      let last = 0;
      for (const match of text.matchAll(pieces)) {
        const start = match.index!;
        let value: string;
        let binding: string;
        if (match[0].startsWith(storeToken)) {
          // storeToken/<hash>-<name>…: the longest input store name it starts with.
          const rest = match[1]!;
          const input = [...byStoreName.keys()].filter((n) => rest.startsWith(n)).sort((a, b) => b.length - a.length)[0];
          if (input === undefined) continue;
          const inputDrv = byStoreName.get(input)!;
          const inputForm = this.form(inputDrv);
          if (inputForm.drvPath === undefined) srcs.add(inputForm.outPath);
          else inputs.set(inputForm.drvPath, inputForm.moduloHash!.toString("hex"));
          if (!used.includes(inputDrv)) used.push(inputDrv);
          value = inputForm.outPath;
          binding = bindingName(inputDrv);
          parts.push({ literal: text.slice(last, start) }, { literal: "", binding, value });
          last = start + storeToken.length + 1 + input.length;
        } else {
          const source = this.source(match[0], "source");
          sources.set(source.path, source);
          srcs.add(source.storePath);
          parts.push({ literal: text.slice(last, start) }, { literal: "", binding: sourceBinding(source), value: source.storePath });
          last = start + match[0].length;
        }
      }
      parts.push({ literal: text.slice(last) });
      const value = parts.map((p) => (p.binding ? p.value! : p.literal)).join("");
      const expression = `"${parts.map((p) => (p.binding ? `\${${p.binding}}` : nixString(p.literal).slice(1, -1))).join("")}"`;
      return { value, expression };
    };

    const recipe = drv.recipe;
    const { storeDir } = this.settings;
    if (recipe.kind === "file") {
      const text = render(recipe.text);
      if (inputs.size === 0) {
        // builtins.toFile: a text path whose references are the sources it names.
        const outPath = makeTextPath(storeDir, drv.name, text.value, srcs);
        return {
          drv, outPath, drvPath: undefined, text: text.value, moduloHash: undefined, inputs: used, sources,
          expression: `builtins.toFile ${nixString(drv.name)} ${text.expression}`, timeout: undefined, maxSilentTime: undefined,
        };
      }
      return this.finish(drv, {
        builder: { value: "/bin/sh", expression: nixString("/bin/sh") },
        args: [{ value: "-c", expression: nixString("-c") }, { value: 'printf %s "$text" > "$out"', expression: nixString('printf %s "$text" > "$out"') }],
        env: new Map([["text", text]]),
      }, inputs, srcs, sources, used, undefined, undefined);
    }

    const env = new Map<string, { value: string; expression: string }>();
    for (const [key, value] of recipe.env) {
      if (reservedNames.has(key)) {
        throw new TsexecError(`${where}: env.${key} cannot be set under --store nix: Nix's derivation reads '${key}' itself; rename the variable`);
      }
      env.set(key, render(value));
    }
    const plain = (value: string) => ({ value, expression: nixString(value) });
    let builder = render(recipe.builder);
    let args = recipe.args.map(render);
    if (isRunCommand(drv)) {
      builder = plain("/bin/sh");
      if (!env.has("PATH")) env.set("PATH", plain(runCommandPath));
      const configuration = getConfiguration();
      for (const [key, path, name] of [
        ["NODE_API_INCLUDE", configuration.nodeApiInclude, "node-api-include"],
        ["TSEXEC_INCLUDE", join(configuration.datadir, "include"), "tsexec-include"],
      ] as const) {
        if (env.has(key) || !existsSync(path)) continue;
        const source = this.source(path, name);
        sources.set(source.path, source);
        srcs.add(source.storePath);
        env.set(key, { value: source.storePath, expression: `"\${${sourceBinding(source)}}"` });
      }
    } else if (!builder.value.startsWith("/")) {
      throw new TsexecError(
        `${where}: the builder '${builder.value}' is not an absolute path: under --store nix, Nix runs the builder without a PATH lookup; give its absolute path (such as /bin/sh) or a derivation`,
      );
    }
    if (recipe.timeout !== undefined) env.set("timeout", plain(nixNumber(recipe.timeout)));
    if (recipe.maxSilentTime !== undefined) env.set("maxSilentTime", plain(nixNumber(recipe.maxSilentTime)));
    return this.finish(drv, { builder, args, env }, inputs, srcs, sources, used, recipe.timeout, recipe.maxSilentTime);
  }

  private finish(
    drv: Derivation,
    parts: { builder: Rendered; args: Rendered[]; env: Map<string, Rendered> },
    inputs: Map<string, string>,
    srcs: Set<string>,
    sources: Map<string, Source>,
    used: Derivation[],
    timeout: number | undefined,
    maxSilentTime: number | undefined,
  ): NixForm {
    const { storeDir, system } = this.settings;
    const envValues = new Map<string, string>([
      ["name", drv.name],
      ["system", system],
      ["builder", parts.builder.value],
    ]);
    for (const [key, value] of parts.env) envValues.set(key, value.value);
    const nix: NixDerivation = { name: drv.name, system, builder: parts.builder.value, args: parts.args.map((a) => a.value), env: envValues, inputDrvs: inputs, inputSrcs: srcs };
    const paths = derivationPaths(storeDir, nix);
    const attributes = [...parts.env].map(([key, value]) => `${nixString(key)} = ${value.expression};`).join(" ");
    const expression =
      `derivation { name = ${nixString(drv.name)}; system = builtins.currentSystem; builder = ${parts.builder.expression}; ` +
      `args = [ ${parts.args.map((a) => a.expression).join(" ")} ]; ${attributes} }`;
    return { drv, outPath: paths.outPath, drvPath: paths.drvPath, text: paths.text, moduloHash: paths.moduloHash, inputs: used, sources, expression, timeout, maxSilentTime };
  }

  /** Every derivation `drv` needs, inputs before their dependents, `drv` last. */
  closure(roots: readonly Derivation[]): Derivation[] {
    const seen = new Set<Derivation>();
    const order: Derivation[] = [];
    const visit = (drv: Derivation) => {
      if (seen.has(drv)) return;
      seen.add(drv);
      for (const input of this.form(drv).inputs) visit(input);
      order.push(drv);
    };
    for (const root of roots) visit(root);
    return order;
  }

  /**
   * A Nix expression evaluating to the list of what `wanted` makes, in order:
   * `.drv` paths of derivations (instantiating them) and the paths of toFile texts.
   */
  expression(wanted: readonly Derivation[]): string {
    const order = this.closure(wanted);
    const sources = new Map<string, Source>();
    for (const drv of order) for (const [path, source] of this.form(drv).sources) sources.set(`${source.name}\u0000${path}`, source);
    const bindings = [
      ...[...sources.values()].map((s) => `  ${sourceBinding(s)} = builtins.path { path = /. + ${nixString(s.path)}; name = ${nixString(s.name)}; };`),
      ...order.map((drv) => `  ${bindingName(drv)} = ${this.form(drv).expression};`),
    ];
    const results = wanted.map((drv) => (this.form(drv).drvPath === undefined ? bindingName(drv) : `${bindingName(drv)}.drvPath`));
    return `let\n${bindings.join("\n")}\nin [ ${results.join(" ")} ]\n`;
  }
}

type Rendered = { value: string; expression: string };

/** System directories: a value naming one (`/bin/sh`, `/usr/include`) is the machine's, never copied into the store. */
const systemPaths = /^\/(bin|sbin|usr|lib|lib32|lib64|libx32|etc|proc|sys|dev|run|nix|tmp\/?$|var\/?$)(\/|$)|^\/$/;

function sourceBinding(source: Source): string {
  return `s${source.storePath.slice(source.storePath.lastIndexOf("/") + 1, source.storePath.lastIndexOf("/") + 33)}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
