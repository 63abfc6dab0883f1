/**
 * The child process `tsexec show` parses a repository's files in (built as
 * dist/show-parser.mjs), so that a file crafted to crash the parser (native
 * stack overflow) or exhaust its memory ends this process, not tsexec; the
 * parent runs it with a heap limit and a time limit per file.
 *
 * stdin: a JSON array of absolute file paths. stdout: one JSON line per file,
 * in order (an Inspection), each written synchronously, so that the parent
 * knows which file a crash happened on.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { inspectSource, type Inspection } from "./analysis.js";

const files = JSON.parse(readFileSync(0, "utf8")) as string[];
for (const file of files) writeSync(1, JSON.stringify(inspect(file)) + "\n");

function inspect(file: string): Inspection {
  let fd: number;
  try {
    // O_NOFOLLOW: the parent walked regular files only; never follow a link swapped in since.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return { note: `not inspected: cannot open it (${(error as NodeJS.ErrnoException).code})` };
  }
  try {
    if (!fstatSync(fd).isFile()) return { note: "not inspected: not a regular file" };
    return inspectSource(file, readFileSync(fd, "utf8"));
  } finally {
    closeSync(fd);
  }
}
