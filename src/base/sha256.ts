/**
 * SHA-256 (FIPS 180-4) of a string, without node:crypto. The cache key of a
 * repository is the hash of its URL, needed on every run from a git
 * reference, and a derivation's store path is the hash of its recipe, needed
 * for every derivation a script makes; loading node:crypto costs more (1–17
 * ms, OpenSSL's initialisation) than all of that. Checkout contents are
 * still hashed with node:crypto (hash.ts).
 *
 * Two implementations of the one function, because a fresh process runs this
 * code in V8's bytecode interpreter (measured on the 2-core CI-like machine):
 * - plain JS: nothing to set up, ~25 µs per 64-byte block interpreted (a
 *   derivation recipe is about 4 blocks);
 * - WebAssembly (sha256-wasm.ts, made by scripts/sha256-wasm.mjs): machine
 *   code at once, a few µs per recipe, but setting it up (compiling the
 *   module, its first calls) costs ~1 ms once.
 * A process starts with plain JS (a git URL, a script's first few
 * derivations) and moves to WebAssembly once it has hashed about as much as
 * the set-up costs (ski rental: never much more than twice the better
 * choice). Node without WebAssembly (`--jitless`) stays with plain JS. Both
 * give node:crypto's digest (tests compare them).
 */
import { sha256WasmBase64, sha256WasmLayout as layout } from "./sha256-wasm.js";

/** Blocks hashed in plain JS before WebAssembly is worth setting up (~0.8 ms of them, about its set-up). */
const wasmAfterBlocks = 32;
let blocksHashed = 0;
let encoder: InstanceType<typeof TextEncoder> | undefined;
/** The WebAssembly hasher: undefined until set up, null where WebAssembly is unavailable. */
let wasmHasher: ((text: string) => string) | null | undefined;

/** The SHA-256 of `text` (UTF-8, lone surrogates as U+FFFD as node:crypto does), as 64 hex digits. */
export function sha256Hex(text: string): string {
  if (wasmHasher === undefined) {
    blocksHashed += (text.length + 72) >> 6; // about: a character is a byte in recipes and URLs
    if (blocksHashed <= wasmAfterBlocks) return sha256HexJs(text);
    wasmHasher = loadWasmHasher();
  }
  return wasmHasher === null ? sha256HexJs(text) : wasmHasher(text);
}

/** The WebAssembly implementation alone (tests; undefined where WebAssembly is unavailable). */
export function sha256HexWasm(text: string): string | undefined {
  wasmHasher ??= loadWasmHasher();
  return wasmHasher === null ? undefined : wasmHasher(text);
}

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: object };
};

interface Sha256Exports {
  readonly memory: { readonly buffer: ArrayBuffer };
  /** The state becomes SHA-256's initial state. */
  start(): void;
  /** Folds `blocks` 64-byte blocks at `ptr` into the state. */
  compress(ptr: number, blocks: number): void;
  /** Pads and folds in the last `tail` (< 64) bytes at `ptr`; writes the digest's hex at layout.hex. */
  finish(ptr: number, tail: number, bitsHigh: number, bitsLow: number): void;
  /** start, compress, finish for the `length` bytes at layout.message: one call for a text that fits. */
  digest(length: number, bitsHigh: number, bitsLow: number): void;
}

function loadWasmHasher(): ((text: string) => string) | null {
  if (typeof WebAssembly !== "object") return null;
  let wasm: Sha256Exports;
  try {
    wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(sha256WasmBase64, "base64"))).exports as unknown as Sha256Exports;
  } catch {
    return null; // a runtime that refuses to compile it: plain JS gives the same digest
  }
  // The message area holds whole blocks and leaves room after it for the padding.
  const area = new Uint8Array(wasm.memory.buffer, layout.message, layout.pageBytes - layout.message - 128);
  const hexDigits = new Uint8Array(wasm.memory.buffer, layout.hex, 64);
  return (text) => {
    const { read, written } = (encoder ??= new TextEncoder()).encodeInto(text, area);
    if (read === text.length) wasm.digest(written, bitsHigh(written), written * 8);
    else hashLong(wasm, area, encoder.encode(text));
    // Latin-1 digits to a string: fromCharCode costs no first-call set-up (Buffer#toString ~0.15 ms).
    return String.fromCharCode.apply(null, hexDigits as unknown as number[]);
  };
}

/** A text longer than the message area: encoded whole, fed to the module an area at a time. */
function hashLong(wasm: Sha256Exports, area: Uint8Array, bytes: Uint8Array): void {
  wasm.start();
  let at = 0;
  while (bytes.length - at >= 64) {
    const chunk = Math.min(area.length, (bytes.length - at) & ~63);
    area.set(bytes.subarray(at, at + chunk));
    wasm.compress(layout.message, chunk >>> 6);
    at += chunk;
  }
  area.set(bytes.subarray(at));
  wasm.finish(layout.message, bytes.length - at, bitsHigh(bytes.length), bytes.length * 8);
}

/** The high word of a length in bits (the low word is `length * 8`, which wasm truncates to 32 bits). */
function bitsHigh(length: number): number {
  return Math.floor(length / 0x20000000);
}

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The message schedule, reused: one hash at a time (JS is single-threaded). */
const w = new Int32Array(64);

/**
 * The plain-JS implementation. Written for cold code as much as for hot:
 * plain int32 locals, no iterators or DataView, ASCII read straight from the
 * string (derivation recipes and URLs are).
 */
export function sha256HexJs(text: string): string {
  let bytes: Uint8Array | undefined;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 127) {
      bytes = (encoder ??= new TextEncoder()).encode(text);
      break;
    }
  }
  const length = bytes === undefined ? text.length : bytes.length;
  // Message, 0x80, zero padding, then the bit length as a 64-bit big-endian number, in 32-bit words.
  const words = (((length + 9 + 63) / 64) | 0) * 16;
  const m = new Int32Array(words);
  for (let i = 0; i < length; i++) m[i >> 2]! |= (bytes === undefined ? text.charCodeAt(i) : bytes[i]!) << (24 - (i & 3) * 8);
  m[length >> 2]! |= 0x80 << (24 - (length & 3) * 8);
  m[words - 2] = (length / 0x20000000) | 0;
  m[words - 1] = length * 8;

  let h0 = 0x6a09e667 | 0, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372 | 0, h3 = 0xa54ff53a | 0; // prettier-ignore
  let h4 = 0x510e527f | 0, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab | 0, h7 = 0x5be0cd19 | 0; // prettier-ignore
  for (let block = 0; block < words; block += 16) {
    for (let i = 0; i < 16; i++) w[i] = m[block + i]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7; // prettier-ignore
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  return hex(h0) + hex(h1) + hex(h2) + hex(h3) + hex(h4) + hex(h5) + hex(h6) + hex(h7);
}

function hex(word: number): string {
  return (word >>> 0).toString(16).padStart(8, "0");
}
