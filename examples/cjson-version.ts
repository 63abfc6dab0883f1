// Prints the version cJSON declares in its header, from a declared git input:
// `tsexec examples/cjson-version.ts`. The first run resolves the tag, fetches it and
// records commit and content hash in examples/tsexec.lock; later runs use the lock
// (no network once cached). `tsexec update examples/cjson-version.ts` moves it.
import { readFileSync } from "node:fs";
import { defineScript } from "tsexec";

export const inputs = {
  cjson: { url: "https://github.com/DaveGamble/cJSON.git", ref: "v1.7.15", submodules: false },
};

export default defineScript(inputs, ({ inputs, lib }) =>
  lib.io(() => {
    const header = readFileSync(`${inputs.cjson}/cJSON.h`, "utf8");
    const part = (name: string) => header.match(new RegExp(`#define CJSON_VERSION_${name} (\\d+)`))?.[1] ?? "?";
    console.log(`cJSON ${part("MAJOR")}.${part("MINOR")}.${part("PATCH")} at ${inputs.cjson.rev} (${inputs.cjson.hash})`);
  }),
);
