// A real C library, built as nixpkgs builds it: zlib from its git repository,
// `./configure --prefix="$out" && make install` at its final store path, then a
// second derivation that compiles against ${zlib}/include and ${zlib}/lib (with an
// rpath to it) and is called through lib.dlopen.
//
//     tsexec examples/zlib.ts "some text"     prints zlib's version, the text's CRC-32,
//                                             and the prefix zlib.pc records (its store path)
//
// The first run fetches zlib (network) and compiles it (needs cc and make, about
// 10 s); later runs find both outputs in the store with one lstat each.
import { readFileSync } from "node:fs";
import { defineScript } from "tsexec";

/** zlib 1.3.1: the commit its tag v1.3.1 names, pinned. */
const zlibSource = { url: "https://github.com/madler/zlib.git", rev: "51b7f2abdade71cd9bb0e7a373ef2610ec6f9daf" };

const glue = `
#include <string.h>
#include <zlib.h>

const char *text_zlib_version(void) { return zlibVersion(); }

unsigned long text_crc32(const char *text) {
  return crc32(crc32(0L, Z_NULL, 0), (const Bytef *)text, (uInt)strlen(text));
}
`;

export default defineScript(({ args, lib }) =>
  lib.bind(lib.builtins.fetchgit(zlibSource), (src) => {
    // The checkout is read-only: build in a writable copy (the build's own directory).
    const zlib = lib.runCommand(
      "zlib-1.3.1",
      { src },
      'cp -R "$src"/. . && chmod -R u+w . && ./configure --prefix="$out" && make -j2 && make install',
    );
    const crc = lib.runCommand(
      "zlib-crc.so",
      { zlib, source: lib.toFile("zlib-crc.c", glue) },
      'cc -shared -fPIC -O2 -I"$zlib/include" -o "$out" "$source" -L"$zlib/lib" -Wl,-rpath,"$zlib/lib" -lz',
    );
    const text = args[1] ?? "hello, zlib"; // args[0] is the script
    return lib.bind(lib.dlopen<string>(crc, "const char *text_zlib_version(void)", []), (version) =>
      lib.bind(lib.dlopen<number>(crc, "unsigned long text_crc32(const char *text)", [text]), (sum) =>
        lib.map(
          (prefix) => {
            console.log(`zlib ${version}`);
            console.log(`crc32(${JSON.stringify(text)}) = ${sum.toString(16).padStart(8, "0")}`);
            console.log(`zlib.pc: ${prefix}`);
          },
          lib.map((out) => /^prefix=.*$/m.exec(readFileSync(`${out}/lib/pkgconfig/zlib.pc`, "utf8"))?.[0], lib.build(zlib)),
        ),
      ),
    );
  }),
);
