// Counts the words of each file named on the command line, in order, and
// reports unreadable files without stopping: lib.mapM, lib.attempt, lib.task,
// and fp-ts's traverse over tsexec's IO.
//
//     tsexec examples/word-count.ts README.md missing.txt
import { readFile } from "node:fs/promises";
import { pipe } from "fp-ts/function";
import * as RA from "fp-ts/ReadonlyArray";
import { Applicative, defineScript, type IO, type Lib } from "tsexec";

const countWords = (lib: Lib, file: string): IO<string> =>
  lib.map(
    (result) => (result._tag === "Right" ? `${file}: ${result.right} words` : `${file}: unreadable (${result.left.message})`),
    lib.attempt(lib.task(() => readFile(file, "utf8").then((text) => text.split(/\s+/).filter(Boolean).length))),
  );

export default defineScript(({ args, lib }) => {
  const files = args.slice(1);
  if (files.length === 0) return lib.io(() => console.error("usage: tsexec examples/word-count.ts FILE..."));
  const lines = lib.mapM((file: string) => countWords(lib, file), files);
  // The same with fp-ts: traverse needs only the Applicative instance.
  const total = pipe(
    files,
    RA.traverse(Applicative)((file) => lib.attempt(lib.task(() => readFile(file, "utf8")))),
    (read) => lib.map((texts: ReadonlyArray<{ _tag: string }>) => texts.filter((t) => t._tag === "Right").length, read),
  );
  return lib.bind(lines, (report) =>
    lib.map((readable: number) => console.log([...report, `${readable} of ${files.length} files readable`].join("\n")), total),
  );
});
