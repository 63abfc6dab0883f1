/**
 * Registry answers with no end (issue 19): a registry that trickles a byte at
 * a time never trips the silence limit, and a body without end would fill
 * memory. Each request has a total time (TSEXEC_HTTP_TIMEOUT) and each
 * response a size (TSEXEC_MAX_RESPONSE); over either, one error naming the
 * URL. The registry is the test's own, on 127.0.0.1.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { maxResponseBytes, totalTimeoutMs } from "../../src/runtime/npm/fetch.js";
import { runTsexec, writeTree } from "../helpers.js";
import { npmEnv } from "./registry.js";

let server: Server;
let url: string;
const open = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    open.add(res);
    res.on("close", () => open.delete(res));
    if (req.url === "/trickle") {
      // A byte every 100 ms: never silent long enough for the idle limit, never done.
      res.writeHead(200, { "content-type": "application/json" });
      const timer = setInterval(() => res.write(" "), 100);
      res.on("close", () => clearInterval(timer));
      return;
    }
    if (req.url === "/endless") {
      // 64 MiB, chunked, no length: far over the test's 1 MiB limit (and finite, so a regression cannot eat the machine).
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let left = 256;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end("{}");
      };
      pump();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of open) res.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A script importing npm:<name>@1 from a registry at `path` on the test's server (the packument URL is `<registry>/<name>`). */
async function runAgainst(name: string, env: Record<string, string>) {
  const dir = writeTree({ "s.ts": `import x from "npm:${name}@1";\nexport default ({ lib }: any) => lib.io(() => console.log(x));\n` });
  return runTsexec([`${dir}/s.ts`], { env: { ...npmEnv(url), ...env }, timeoutMs: 40_000 });
}

describe("registry requests are bounded", () => {
  test("a registry trickling a byte at a time fails at the total time, naming the URL", async () => {
    const started = Date.now();
    const out = await runAgainst("trickle", { TSEXEC_HTTP_TIMEOUT: "2" });
    expect(out.signal).toBeNull(); // it ended by itself, not killed at the test's limit
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(new RegExp(`^error: trickle: ${url}/trickle did not answer in full within 2 s \\(TSEXEC_HTTP_TIMEOUT\\)`));
    expect(out.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test("an endless body fails at the size limit, naming the URL", async () => {
    const out = await runAgainst("endless", { TSEXEC_MAX_RESPONSE: "1M" });
    expect(out.signal).toBeNull();
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(new RegExp(`^error: endless: the response from ${url}/endless is larger than 1\\.0 MiB, over tsexec's limit of 1\\.0 MiB \\(TSEXEC_MAX_RESPONSE\\)`));
    expect(out.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  test("the limits read from the environment, with defaults", () => {
    expect(totalTimeoutMs({})).toBe(300_000);
    expect(totalTimeoutMs({ TSEXEC_HTTP_TIMEOUT: "2.5" })).toBe(2500);
    expect(totalTimeoutMs({ TSEXEC_HTTP_TIMEOUT: "-1" })).toBe(300_000);
    expect(maxResponseBytes({})).toBe(512 * 1024 * 1024);
    expect(maxResponseBytes({ TSEXEC_MAX_RESPONSE: "1M" })).toBe(1024 * 1024);
    expect(maxResponseBytes({ TSEXEC_MAX_RESPONSE: "2GiB" })).toBe(2 * 1024 ** 3);
    expect(maxResponseBytes({ TSEXEC_MAX_RESPONSE: "4096" })).toBe(4096);
    expect(maxResponseBytes({ TSEXEC_MAX_RESPONSE: "lots" })).toBe(512 * 1024 * 1024);
  });
});
