// Prints the script's arguments, one per line: `tsexec examples/hello.ts a b`.
import { defineScript } from "tsexec";

export default defineScript(({ args, lib }) =>
  lib.io(() => {
    for (const arg of args) console.log(arg);
  }),
);
