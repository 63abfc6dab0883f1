/**
 * Nix's derivation serialisation and hashing, against values Nix 2.8 itself gave
 * (`nix-instantiate`, `nix-store --dump | sha256sum`) for these derivations and
 * recorded here: these tests need no Nix, so they run everywhere.
 *
 *   let a = derivation { name = "a"; system = "x86_64-linux"; builder = "/bin/sh";
 *     args = ["-c" "echo hi > $out"]; FOO = "x\"y\n\t\\"; timeout = 1.5; };
 *   in derivation { name = "b"; system = "x86_64-linux"; builder = "/bin/sh";
 *     args = ["-c" "cat ${a} > $out; echo $NAI >> $out"];
 *     NAI = "${builtins.path { path = ./inc; name = "source"; }}";   # inc/x.h holds "h\n"
 *     t = builtins.toFile "t.txt" "hello"; }
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { atermString, compressHash, derivationPaths, makeSourcePath, makeTextPath, nixBase32, type NixDerivation } from "../../src/builtins/derivation/nix/aterm.js";
import { narHash } from "../../src/builtins/derivation/nix/nar.js";
import { nixString } from "../../src/builtins/derivation/nix/translate.js";
import { tempDir } from "../helpers.js";

const store = "/nix/store";

const a: NixDerivation = {
  name: "a",
  system: "x86_64-linux",
  builder: "/bin/sh",
  args: ["-c", "echo hi > $out"],
  env: new Map([["name", "a"], ["system", "x86_64-linux"], ["builder", "/bin/sh"], ["FOO", 'x"y\n\t\\'], ["timeout", "1.500000"]]),
  inputDrvs: new Map(),
  inputSrcs: new Set(),
};

const aText =
  'Derive([("out","/nix/store/h4ydygkgn5jvaygy5pwgpsxijljhlcwl-a","","")],[],[],"x86_64-linux","/bin/sh",["-c","echo hi > $out"],' +
  '[("FOO","x\\"y\\n\\t\\\\"),("builder","/bin/sh"),("name","a"),("out","/nix/store/h4ydygkgn5jvaygy5pwgpsxijljhlcwl-a"),("system","x86_64-linux"),("timeout","1.500000")])';

describe("Nix's derivation hashing, in TypeScript", () => {
  it("a derivation without inputs: its .drv text, output path and .drv path are Nix's", () => {
    const paths = derivationPaths(store, a);
    expect(paths.text).toBe(aText);
    expect(paths.outPath).toBe("/nix/store/h4ydygkgn5jvaygy5pwgpsxijljhlcwl-a");
    expect(paths.drvPath).toBe("/nix/store/hvp6n7i5407dm5la0czy4mwbn623i12z-a.drv");
  });

  it("a derivation with an input derivation, a toFile text and a source: the modulo hash of the input stands in for its .drv", () => {
    const aPaths = derivationPaths(store, a);
    const text = makeTextPath(store, "t.txt", "hello");
    expect(text).toBe("/nix/store/9p0nl625gm5mli8h2xfsgma0zz31g9yc-t.txt");
    const inc = tempDir("nar-");
    mkdirSync(join(inc, "inc"));
    writeFileSync(join(inc, "inc", "x.h"), "h\n");
    chmodSync(join(inc, "inc", "x.h"), 0o644);
    expect(narHash(join(inc, "inc")).toString("hex")).toBe("f21d49183ba2939180b1f96e04c162d981d27d2f66151be78dd42953ce02ca4b");
    const source = makeSourcePath(store, "source", narHash(join(inc, "inc")));
    expect(source).toBe("/nix/store/x2j459l7xv1wq398855c3crjsfb8ivgh-source");
    const b: NixDerivation = {
      name: "b",
      system: "x86_64-linux",
      builder: "/bin/sh",
      args: ["-c", `cat ${aPaths.outPath} > $out; echo $NAI >> $out`],
      env: new Map([["name", "b"], ["system", "x86_64-linux"], ["builder", "/bin/sh"], ["NAI", source], ["t", text]]),
      inputDrvs: new Map([[aPaths.drvPath, aPaths.moduloHash.toString("hex")]]),
      inputSrcs: new Set([text, source]),
    };
    const paths = derivationPaths(store, b);
    expect(paths.outPath).toBe("/nix/store/n09qyg051cbbxp5w4rxqb1nw6x0mdx5k-b");
    expect(paths.drvPath).toBe("/nix/store/3w30n9ipmpwshpkqhfikvcrnz7xx8c83-b.drv");
    expect(paths.text.startsWith('Derive([("out","/nix/store/n09qyg051cbbxp5w4rxqb1nw6x0mdx5k-b","","")],[("/nix/store/hvp6n7i5407dm5la0czy4mwbn623i12z-a.drv",["out"])],')).toBe(true);
  });

  it("the executable bit is part of a NAR", () => {
    const dir = tempDir("nar-");
    mkdirSync(join(dir, "t"));
    writeFileSync(join(dir, "t", "run"), "#!/bin/sh\n");
    chmodSync(join(dir, "t", "run"), 0o755);
    const plain = narHash(join(dir, "t")).toString("hex");
    chmodSync(join(dir, "t", "run"), 0o644);
    expect(narHash(join(dir, "t")).toString("hex")).not.toBe(plain);
  });

  it("base-32 and hash compression as Nix does them", () => {
    expect(nixBase32(new Uint8Array(20))).toBe("0".repeat(32));
    // `nix-hash --type sha256 --base32 inc` of the directory above (Nix 2.8).
    expect(nixBase32(Buffer.from("f21d49183ba2939180b1f96e04c162d981d27d2f66151be78dd42953ce02ca4b", "hex"))).toBe("0jya0b756aflipkin5b65xyx50frcb0h8vprn60934x27cc4j7gj");
    expect([...compressHash(Uint8Array.from([1, 2, 3, 4]), 2)]).toEqual([1 ^ 3, 2 ^ 4]);
  });

  it("ATerm and Nix string escapes", () => {
    expect(atermString('a"b\\c\nd\re\tf$g')).toBe('"a\\"b\\\\c\\nd\\re\\tf$g"');
    expect(nixString("${x} \\ \"")).toBe('"\\${x} \\\\ \\""');
  });
});
