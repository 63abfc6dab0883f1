/** A gc killed with SIGKILL mid-removal leaves every entry whole or invalid, never a valid marker without its output. */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { launcher, runTsexec, tempDir } from "../helpers.js";

describe("tsexec gc under SIGKILL", () => {
  test("killed while removing, the store has no valid marker without its output; the next gc finishes the job", async () => {
    const cache = tempDir("gc-kill-");
    const store = join(cache, "store");
    mkdirSync(join(store, ".valid"), { recursive: true });
    const old = Date.now() / 1000 - 90 * 86400;
    const count = 3000;
    for (let i = 0; i < count; i++) {
      const name = `${i.toString(16).padStart(32, "0")}-out${i}`;
      mkdirSync(join(store, name, "bin"), { recursive: true });
      writeFileSync(join(store, name, "bin", "x"), "x\n");
      writeFileSync(join(store, ".valid", name), "{}\n");
      utimesSync(join(store, ".valid", name), old, old);
    }
    const env = { ...process.env, TSEXEC_CACHE_DIR: cache, XDG_DATA_HOME: tempDir("data-") };
    let killedBySignal: NodeJS.Signals | null = null;
    const child = spawn(process.execPath, [launcher, "gc"], { env, stdio: "ignore" });
    // Killed as soon as removal has visibly begun (the trash exists), or when gc ends first.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (existsSync(join(cache, ".trash")) && readdirSync(join(cache, ".trash")).length > 0) {
          child.kill("SIGKILL");
          clearInterval(timer);
        }
      }, 2);
      child.on("exit", (_code, signal) => {
        killedBySignal = signal;
        clearInterval(timer);
        resolve();
      });
    });
    expect(killedBySignal).toBe("SIGKILL");
    expect(readdirSync(join(cache, ".trash")).length).toBe(1); // the killed gc's trash
    const valid = readdirSync(join(store, ".valid")).filter((n) => !n.endsWith(".tmp"));
    expect(valid.filter((name) => !existsSync(join(store, name, "bin", "x")))).toEqual([]);
    const again = await runTsexec(["gc"], { env });
    expect(again.code).toBe(0);
    expect(readdirSync(join(store, ".valid"))).toEqual([]);
    expect(readdirSync(join(cache, ".trash"))).toEqual([]);
  });
});
