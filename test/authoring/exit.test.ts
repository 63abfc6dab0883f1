// Ending a program: process.exitCode is kept, process.exit() works, errors exit 1.
import { describe, expect, it } from "vitest";
import { runTsexec, writeTree } from "../helpers.js";

describe("exit codes", () => {
  it("a process.exitCode the script sets is the exit code (CI sees the failure)", async () => {
    const dir = writeTree({ "s.ts": `export default ({ lib }: any) => lib.io(() => { console.log("checked"); process.exitCode = 3; });\n` });
    const r = await runTsexec(["s.ts"], { cwd: dir });
    expect(r.stdout).toBe("checked\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(3);
  });

  it("process.exit(code) inside a script ends the program at once with that code", async () => {
    const dir = writeTree({
      "s.ts": `export default ({ lib }: any) => lib.bind(lib.io(() => process.exit(4)), () => lib.io(() => console.log("not reached")));\n`,
    });
    const r = await runTsexec(["s.ts"], { cwd: dir });
    expect(r.stdout).toBe("");
    expect(r.code).toBe(4);
  });

  it("an error exits 1 even when the script set process.exitCode before it", async () => {
    const dir = writeTree({ "s.ts": `export default ({ lib }: any) => lib.io(() => { process.exitCode = 5; throw new Error("late"); });\n` });
    const r = await runTsexec(["s.ts"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: late\n/);
  });

  it("success without exitCode is 0", async () => {
    const dir = writeTree({ "s.ts": `export default ({ lib }: any) => lib.unit(1);\n` });
    expect((await runTsexec(["s.ts"], { cwd: dir })).code).toBe(0);
  });
});
