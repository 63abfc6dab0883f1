// Module hooks (registered by module-log.mjs) that log each ES module Node
// loads, with its format and size, to stderr: bench/startup.mjs uses them to
// list what tsexec's start-up path loads. Loads through require() are not seen.
import { writeSync } from "node:fs";

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  const size = typeof result.source === "string" ? Buffer.byteLength(result.source) : (result.source?.byteLength ?? 0);
  writeSync(2, `bench-module-load ${result.format} ${size} ${url}\n`);
  return result;
}
