#!/usr/bin/env tsexec
// An executable script: with tsexec on PATH, `./examples/shebang-hello.ts a b`.
import type { Script } from "tsexec";

const greet: Script = ({ args, lib }) =>
  lib.bind(
    lib.io(() => args.slice(1)),
    (names) => lib.io(() => console.log(`Hello, ${names.length ? names.join(" and ") : "world"}!`)),
  );

export default greet;
