// Generates src/base/sha256-wasm.ts: SHA-256's compression function as a
// WebAssembly module (a few hundred bytes), written out below instruction by instruction.
//
// Why WebAssembly: a fresh process runs tsexec's code in V8's bytecode interpreter, where
// hashing one derivation recipe (4 blocks) in plain JS takes ~100 µs; the same rounds
// compiled once by WebAssembly's baseline compiler take ~1 µs. See sha256.ts.
//
// `node scripts/sha256-wasm.mjs` rewrites the file; test/native/sha256.test.ts checks that
// the committed file is what this script makes, and the digests against node:crypto.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Memory layout (bytes): the state H, the initial state (IV), the round constants K, the schedule W, the digest in hex, the message. */
export const layout = { state: 0, iv: 32, k: 64, w: 320, hex: 576, message: 1024, pageBytes: 65536 };

const iv = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const k = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

// --- the encoding (WebAssembly core spec, binary format) ---
const uleb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n) => {
  const out = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const vec = (items) => [...uleb(items.length), ...items.flat()];
const section = (id, body) => [id, ...uleb(body.length), ...body];
const name = (text) => vec([...Buffer.from(text, "utf8")]);
const littleEndian = (words) => words.flatMap((word) => [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, (word >>> 24) & 0xff]);

const i32 = 0x7f;
const op = {
  get: (local) => [0x20, ...uleb(local)],
  set: (local) => [0x21, ...uleb(local)],
  tee: (local) => [0x22, ...uleb(local)],
  const: (value) => [0x41, ...sleb(value)],
  load: (offset) => [0x28, 2, ...uleb(offset)],
  load8: (offset) => [0x2d, 0, ...uleb(offset)],
  store: (offset) => [0x36, 2, ...uleb(offset)],
  store8: (offset) => [0x3a, 0, ...uleb(offset)],
  call: (func) => [0x10, ...uleb(func)],
  eqz: [0x45],
  ltU: [0x49],
  gtU: [0x4b],
  add: [0x6a],
  sub: [0x6b],
  and: [0x71],
  or: [0x72],
  xor: [0x73],
  shl: [0x74],
  shrU: [0x76],
  rotr: [0x78],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (depth) => [0x0c, ...uleb(depth)],
  brIf: (depth) => [0x0d, ...uleb(depth)],
  select: [0x1b],
  end: [0x0b],
};

// --- function 0, compress(ptr, blocks): folds `blocks` 64-byte blocks at `ptr` into the state ---
const [ptr, blocks, a, b, c, d, e, f, g, h, i, t1, x] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const vars = [a, b, c, d, e, f, g, h];
const rotr = (local, n) => [op.get(local), op.const(n), op.rotr];
/** Σ/σ functions: the xor of rotations (and for σ a shift) of one local. */
const sigma = (local, [r1, r2], last, shift) => [
  rotr(local, r1),
  rotr(local, r2),
  op.xor,
  shift ? [op.get(local), op.const(last), op.shrU] : rotr(local, last),
  op.xor,
];
/** `i += 4; loop while i < limit` (i counts bytes: one i32 word per step). */
const nextWord = (limit, depth = 0) => [op.get(i), op.const(4), op.add, op.tee(i), op.const(limit), op.ltU, op.brIf(depth)];

const compress = [
  op.block,
  op.get(blocks), op.eqz, op.brIf(0), // prettier-ignore
  op.loop,
  // W[0..15]: the block's words, big-endian.
  op.const(0), op.set(i), // prettier-ignore
  op.loop,
  op.get(i),
  op.get(ptr), op.get(i), op.add, op.tee(x), op.load8(0), op.const(24), op.shl, // prettier-ignore
  op.get(x), op.load8(1), op.const(16), op.shl, op.or, // prettier-ignore
  op.get(x), op.load8(2), op.const(8), op.shl, op.or, // prettier-ignore
  op.get(x), op.load8(3), op.or, // prettier-ignore
  op.store(layout.w),
  nextWord(64),
  op.end,
  // W[16..63] = σ1(W[i-2]) + W[i-7] + σ0(W[i-15]) + W[i-16]
  op.loop,
  op.get(i),
  op.get(i), op.load(layout.w - 15 * 4), op.set(x), sigma(x, [7, 18], 3, true), // prettier-ignore
  op.get(i), op.load(layout.w - 2 * 4), op.set(x), sigma(x, [17, 19], 10, true), op.add, // prettier-ignore
  op.get(i), op.load(layout.w - 7 * 4), op.add, // prettier-ignore
  op.get(i), op.load(layout.w - 16 * 4), op.add, // prettier-ignore
  op.store(layout.w),
  nextWord(256),
  op.end,
  // a..h = H
  vars.map((local, n) => [op.const(0), op.load(layout.state + 4 * n), op.set(local)]),
  op.const(0), op.set(i), // prettier-ignore
  op.loop,
  // t1 = h + Σ1(e) + Ch(e, f, g) + K[i] + W[i]
  op.get(h),
  sigma(e, [6, 11], 25, false), op.add, // prettier-ignore
  op.get(e), op.get(f), op.and, op.get(e), op.const(-1), op.xor, op.get(g), op.and, op.xor, op.add, // prettier-ignore
  op.get(i), op.load(layout.k), op.add, // prettier-ignore
  op.get(i), op.load(layout.w), op.add, // prettier-ignore
  op.set(t1),
  // h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a
  op.get(g), op.set(h), op.get(f), op.set(g), op.get(e), op.set(f), // prettier-ignore
  op.get(d), op.get(t1), op.add, op.set(e), // prettier-ignore
  op.get(c), op.set(d), op.get(b), op.set(c), op.get(a), op.set(b), // prettier-ignore
  // a = t1 + Σ0(old a) + Maj(old a, old b, old c): the old a, b, c are now b, c, d
  op.get(t1),
  sigma(b, [2, 13], 22, false), op.add, // prettier-ignore
  op.get(b), op.get(c), op.and, op.get(b), op.get(d), op.and, op.xor, op.get(c), op.get(d), op.and, op.xor, op.add, // prettier-ignore
  op.set(a),
  nextWord(256),
  op.end,
  // H += a..h
  vars.map((local, n) => [op.const(0), op.const(0), op.load(layout.state + 4 * n), op.get(local), op.add, op.store(layout.state + 4 * n)]),
  op.get(ptr), op.const(64), op.add, op.set(ptr), // prettier-ignore
  op.get(blocks), op.const(1), op.sub, op.tee(blocks), op.brIf(0), // prettier-ignore
  op.end,
  op.end,
].flat(Infinity);

// --- function 1, start(): the state becomes the initial state ---
const start = vars.map((_, n) => [op.const(0), op.const(0), op.load(layout.iv + 4 * n), op.store(layout.state + 4 * n)]).flat(Infinity);

// --- function 2, finish(ptr, tail, bitsHigh, bitsLow): pads the last `tail` (< 64) bytes of the
// message, at `ptr`, with 0x80, zeros and the message's length in bits (big-endian, 64 bits, given
// as two words), folds them in, and writes the digest as 64 lowercase hex digits at layout.hex ---
const [fPtr, fTail, fHigh, fLow, fEnd, fWord, fDigit] = [0, 1, 2, 3, 4, 5, 6];
const storeBigEndian = (word, at) =>
  [24, 16, 8, 0].map((shift, n) => [op.get(fEnd), op.get(word), op.const(shift), op.shrU, op.store8(at + n)]);
const finish = [
  // the padded tail ends at ptr + 64, or ptr + 128 when the length does not fit after the tail
  op.get(fPtr), op.get(fTail), op.add, op.const(0x80), op.store8(0), // prettier-ignore
  op.get(fPtr), op.const(128), op.add, op.get(fPtr), op.const(64), op.add, op.get(fTail), op.const(55), op.gtU, op.select, op.set(fEnd), // prettier-ignore
  // zeros from after the 0x80 to the length
  op.get(fPtr), op.get(fTail), op.add, op.const(1), op.add, op.set(fWord), // prettier-ignore
  op.block,
  op.loop,
  op.get(fWord), op.get(fEnd), op.const(8), op.sub, op.ltU, op.const(1), op.xor, op.brIf(1), // prettier-ignore
  op.get(fWord), op.const(0), op.store8(0), // prettier-ignore
  op.get(fWord), op.const(1), op.add, op.set(fWord), // prettier-ignore
  op.br(0),
  op.end,
  op.end,
  op.get(fEnd), op.const(8), op.sub, op.set(fEnd), // prettier-ignore
  storeBigEndian(fHigh, 0),
  storeBigEndian(fLow, 4),
  op.get(fPtr), op.get(fEnd), op.const(8), op.add, op.get(fPtr), op.sub, op.const(6), op.shrU, op.call(0), // prettier-ignore
  // hex: digit n is nibble (7 - n % 8) of state word n / 8
  op.const(0), op.set(fDigit), // prettier-ignore
  op.loop,
  op.get(fDigit),
  op.get(fDigit), op.const(1), op.shrU, op.const(-4), op.and, op.load(layout.state), // prettier-ignore (word (digit / 8) is at byte 4 * (digit / 8))
  op.const(28), op.get(fDigit), op.const(7), op.and, op.const(2), op.shl, op.sub, op.shrU, op.const(15), op.and, op.tee(fWord), // prettier-ignore
  op.const(48), op.add, op.get(fWord), op.const(87), op.add, op.get(fWord), op.const(10), op.ltU, op.select, // prettier-ignore
  op.store8(layout.hex),
  op.get(fDigit), op.const(1), op.add, op.tee(fDigit), op.const(64), op.ltU, op.brIf(0), // prettier-ignore
  op.end,
].flat(Infinity);

// --- function 3, digest(length, bitsHigh, bitsLow): start, compress and finish for a message of
// `length` bytes at layout.message, in one call (the common case: a message that fits the page) ---
const [dLength, dHigh, dLow] = [0, 1, 2];
const digest = [
  op.call(1),
  op.const(layout.message), op.get(dLength), op.const(6), op.shrU, op.call(0), // prettier-ignore
  op.get(dLength), op.const(-64), op.and, op.const(layout.message), op.add, // prettier-ignore
  op.get(dLength), op.const(63), op.and, // prettier-ignore
  op.get(dHigh), op.get(dLow), op.call(2), // prettier-ignore
].flat(Infinity);

const code = (locals, instructions) => {
  const body = [...vec(locals > 0 ? [[...uleb(locals), i32]] : []), ...instructions, ...op.end];
  return [...uleb(body.length), ...body];
};

/** The module's bytes. */
export function sha256Module() {
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    // types: 0 (i32, i32) -> (), 1 () -> (), 2 (i32, i32, i32, i32) -> (), 3 (i32, i32, i32) -> ()
    ...section(1, vec([[0x60, ...vec([i32, i32]), 0], [0x60, 0, 0], [0x60, ...vec([i32, i32, i32, i32]), 0], [0x60, ...vec([i32, i32, i32]), 0]])),
    ...section(3, vec([uleb(0), uleb(1), uleb(2), uleb(3)])),
    ...section(5, vec([[0x00, 1]])), // one memory of one page, fixed
    ...section(
      7,
      vec([
        [...name("compress"), 0x00, 0],
        [...name("start"), 0x00, 1],
        [...name("finish"), 0x00, 2],
        [...name("digest"), 0x00, 3],
        [...name("memory"), 0x02, 0],
      ]),
    ),
    // compress: locals a..x after its two parameters; finish: end, word, digit after its four
    ...section(10, vec([code(x - a + 1, compress), code(0, start), code(3, finish), code(0, digest)])),
    ...section(11, vec([[0x00, ...op.const(layout.iv), ...op.end, ...vec(littleEndian([...iv, ...k]))]])), // IV then K
  ]);
}

/** The TypeScript module that holds the bytes. */
export function sha256WasmSource() {
  const base64 = Buffer.from(sha256Module()).toString("base64");
  const lines = base64.match(/.{1,100}/g).map((line) => `  "${line}" +`);
  lines[lines.length - 1] = lines[lines.length - 1].slice(0, -2) + ";";
  return `// Generated by scripts/sha256-wasm.mjs (the WebAssembly instructions, written out, are there): do not edit.
/** SHA-256's compression function, \`compress(ptr, blocks)\`, as a WebAssembly module, in base64. */
export const sha256WasmBase64 =
${lines.join("\n")}

/** Where the module keeps things in its one page of memory (bytes). */
export const sha256WasmLayout = ${JSON.stringify(layout).replace(/"(\w+)":/g, "$1: ").replace(/,/g, ", ").replace(/^\{/, "{ ").replace(/\}$/, " }")} as const;
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL("../src/base/sha256-wasm.ts", import.meta.url), sha256WasmSource());
}
