/**
 * `lib`, and the objects `lib.$` and `lib.builtins`, stay in V8's fast mode (hidden classes, not a
 * hash table): every `lib.bind` in a script's loop is a property read, and in dictionary mode
 * those reads halved a loop's speed. Checked in a real `tsexec` run, with V8's own test
 * (`%HasFastProperties`, under --allow-natives-syntax), beside what must not change for it:
 * lib is frozen, `configuration` is an enumerable getter loaded on first use.
 */
import { describe, expect, it } from "vitest";
import { launcher, runCommand, writeTree } from "../helpers.js";

const probe = `
const fast = new Function("o", "return %HasFastProperties(o)");
export default ({ lib }) => lib.io(() => {
  const descriptor = Object.getOwnPropertyDescriptor(lib, "configuration");
  console.log(JSON.stringify({
    lib: fast(lib),
    dollar: fast(lib.$),
    builtins: fast(lib.builtins),
    // The check itself can fail: an object literal with a getter is in dictionary mode.
    control: fast({ a: 1, get b() { return 2; } }),
    frozen: Object.isFrozen(lib) && Object.isFrozen(lib.builtins),
    configurationGetter: typeof descriptor.get === "function" && descriptor.enumerable,
    keys: Object.keys(lib),
    major: lib.configuration.version.major,
    stillFast: fast(lib),
  }));
});
`;

describe("lib's objects in V8's fast mode", () => {
  it("lib, lib.$ and lib.builtins have fast properties in a script run by tsexec", async () => {
    const dir = writeTree({ "probe.mjs": probe });
    const outcome = await runCommand(process.execPath, ["--allow-natives-syntax", launcher, `${dir}/probe.mjs`]);
    expect(outcome.stderr).toBe("");
    const seen = JSON.parse(outcome.stdout);
    expect(seen.control).toBe(false);
    expect(seen).toMatchObject({ lib: true, dollar: true, builtins: true, frozen: true, configurationGetter: true, stillFast: true });
    expect(typeof seen.major).toBe("number");
    // The documented names, in the order they always had (`{ ...lib }` copies them all).
    expect(seen.keys.slice(-3)).toEqual(["builtins", "import", "configuration"]);
    expect(seen.keys).toHaveLength(29);
  });
});
