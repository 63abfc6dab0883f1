/**
 * Nix's derivations as Nix itself writes and hashes them (Nix 2.x, input-addressed,
 * one output `out`): the ATerm text of a `.drv` file, `hashDerivationModulo`, and the
 * store paths of outputs, `.drv` files, `builtins.toFile` texts and imported sources.
 * Pure functions: the same input gives the path `nix-instantiate` gives (tests compare).
 *
 * How Nix computes them (libstore/derivations.cc, store-api.cc):
 * - makeStorePath(type, hash, name) = `<storeDir>/<base32(compress20(sha256(
 *   "<type>:sha256:<hex hash>:<storeDir>:<name>")))>-<name>`.
 * - An output path: type `output:out`, hash = hashDerivationModulo(drv), where
 *   the drv is written with its output path and `out` env left empty and each
 *   input `.drv` path replaced by that input's own hashDerivationModulo (hex).
 * - A `.drv` path and a toFile path: type `text[:<reference>…]`, hash = sha256 of the text.
 * - A source added by path (builtins.path, `./dir` in an expression): type
 *   `source[:<reference>…]`, hash = sha256 of its NAR serialisation.
 */
import { createHash } from "node:crypto";

export interface NixDerivation {
  readonly name: string;
  readonly system: string;
  readonly builder: string;
  readonly args: readonly string[];
  /** Every env entry but `out` (Nix adds it); keys unique. */
  readonly env: ReadonlyMap<string, string>;
  /** Input derivations: their `.drv` paths, each with its own modulo hash (hex). */
  readonly inputDrvs: ReadonlyMap<string, string>;
  /** Input sources: store paths (toFile texts, imported sources). */
  readonly inputSrcs: ReadonlySet<string>;
}

/** Nix's base-32 alphabet (no e, o, u, t: no words). */
const base32Chars = "0123456789abcdfghijklmnpqrsvwxyz";

/** Nix's base-32: the bytes read as one little-endian number, printed from its most significant 5 bits. */
export function nixBase32(bytes: Uint8Array): string {
  const length = Math.ceil((bytes.length * 8) / 5);
  let out = "";
  for (let n = length - 1; n >= 0; n--) {
    const bit = n * 5;
    const i = bit >> 3;
    const j = bit & 7;
    const c = (bytes[i]! >> j) | (i + 1 < bytes.length ? bytes[i + 1]! << (8 - j) : 0);
    out += base32Chars[c & 0x1f];
  }
  return out;
}

/** XOR-folds a hash to `size` bytes (Nix's compressHash): store path hashes are 160 bits. */
export function compressHash(hash: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < hash.length; i++) out[i % size]! ^= hash[i]!;
  return out;
}

export function sha256(data: string | Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

export function makeStorePath(storeDir: string, type: string, hash: Uint8Array, name: string): string {
  const fingerprint = `${type}:sha256:${Buffer.from(hash).toString("hex")}:${storeDir}:${name}`;
  return `${storeDir}/${nixBase32(compressHash(sha256(fingerprint), 20))}-${name}`;
}

function typeWithReferences(type: string, references: Iterable<string>): string {
  return [type, ...[...references].sort()].join(":");
}

/** The store path of a text with these references: a `.drv` file, or `builtins.toFile name text`. */
export function makeTextPath(storeDir: string, name: string, text: string, references: Iterable<string> = []): string {
  return makeStorePath(storeDir, typeWithReferences("text", references), sha256(text), name);
}

/** The store path of a source imported by path (recursive, SHA-256 of its NAR), without references. */
export function makeSourcePath(storeDir: string, name: string, narHash: Uint8Array): string {
  return makeStorePath(storeDir, "source", narHash, name);
}

/** Nix's string literal in ATerm: `"` and `\` escaped, and newline, CR, tab as `\n`, `\r`, `\t`. */
export function atermString(text: string): string {
  let out = '"';
  for (const ch of text) {
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else out += ch;
  }
  return `${out}"`;
}

const list = (items: readonly string[]) => `[${items.join(",")}]`;

/** Byte order of UTF-8 strings (std::map<std::string> in Nix): code unit order differs above U+FFFF only in rare cases, so compare bytes. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The `.drv` text. `outPath` is the output path, or "" while the modulo hash is
 * computed; `inputs` maps each input key (a `.drv` path, or its modulo hash)
 * to its outputs.
 */
function unparse(drv: NixDerivation, outPath: string, inputs: ReadonlyMap<string, readonly string[]>): string {
  const env = new Map(drv.env);
  env.set("out", outPath);
  const inputDrvs = [...inputs.keys()].sort(byteOrder).map((key) => `(${atermString(key)},${list(inputs.get(key)!.map(atermString))})`);
  const envEntries = [...env.keys()].sort(byteOrder).map((key) => `(${atermString(key)},${atermString(env.get(key)!)})`);
  return (
    `Derive(${list([`(${atermString("out")},${atermString(outPath)},"","")`])},` +
    `${list(inputDrvs)},${list([...drv.inputSrcs].sort(byteOrder).map(atermString))},` +
    `${atermString(drv.system)},${atermString(drv.builder)},${list(drv.args.map(atermString))},${list(envEntries)})`
  );
}

export interface DerivationPaths {
  /** hashDerivationModulo, what derivations depending on this one hash in its place. */
  readonly moduloHash: Buffer;
  readonly outPath: string;
  readonly drvPath: string;
  /** The `.drv` file's text, exactly as Nix writes it. */
  readonly text: string;
}

/** The output path, `.drv` path and text of an input-addressed derivation with one output `out`. */
export function derivationPaths(storeDir: string, drv: NixDerivation): DerivationPaths {
  const byModulo = new Map<string, readonly string[]>();
  for (const modulo of drv.inputDrvs.values()) byModulo.set(modulo, ["out"]);
  // The output path hashes the derivation with its output masked (empty).
  const outPath = makeStorePath(storeDir, "output:out", sha256(unparse(drv, "", byModulo)), drv.name);
  const byPath = new Map<string, readonly string[]>();
  for (const path of drv.inputDrvs.keys()) byPath.set(path, ["out"]);
  const text = unparse(drv, outPath, byPath);
  const drvPath = makeTextPath(storeDir, `${drv.name}.drv`, text, [...drv.inputSrcs, ...drv.inputDrvs.keys()]);
  // Dependents hash this derivation with its output path filled in and its inputs still by modulo hash.
  return { moduloHash: sha256(unparse(drv, outPath, byModulo)), outPath, drvPath, text };
}
