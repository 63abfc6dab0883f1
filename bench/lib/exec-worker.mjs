// One way of running `true` N times in a row, in a process of its own.
// bench/exec.mjs spawns it:
//
//     node bench/lib/exec-worker.mjs ENGINE N REPS
//
//   ENGINE  spawn (child_process.spawn awaited by hand, stdout and stderr collected),
//           tsexec (lib.exec("true") in a lib.mapM loop, the Promise `run`),
//           tsexec@DIR (another built checkout), zx (await $`true`)
// Prints { ms[] }: one figure per repetition of the N runs, after one untimed warm-up.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "./measure.mjs";

const [spec, nText, repsText] = process.argv.slice(2);
const n = Number(nText);
const reps = Number(repsText);
const indices = Array.from({ length: n }, (_, i) => i);

function spawnTrue() {
  return new Promise((resolve, reject) => {
    const child = spawn("true", [], { stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (chunk) => out.push(chunk));
    child.stderr.on("data", (chunk) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`exit ${code}`))));
  });
}

async function loadEngine() {
  const [name, root = projectRoot] = spec.split("@");
  switch (name) {
    case "spawn":
      return async () => {
        for (let i = 0; i < n; i++) await spawnTrue();
      };
    case "tsexec": {
      const { exec, mapM, run } = await import(pathToFileURL(join(root, "dist", "index.js")).href);
      return () => run(mapM(() => exec("true"), indices));
    }
    case "zx": {
      const { $ } = await import("zx");
      $.verbose = false;
      $.quiet = true;
      return async () => {
        for (let i = 0; i < n; i++) await $`true`;
      };
    }
    default:
      throw new Error(`unknown engine '${name}' (spawn, tsexec, zx)`);
  }
}

const runAll = await loadEngine();
const ms = [];
for (let i = -1; i < reps; i++) {
  const started = process.hrtime.bigint();
  await runAll();
  if (i >= 0) ms.push(Number(process.hrtime.bigint() - started) / 1e6);
}
process.stdout.write(JSON.stringify({ ms }) + "\n");
