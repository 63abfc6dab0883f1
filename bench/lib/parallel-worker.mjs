// One engine running N asynchronous tasks at once, in a process of its own.
// bench/parallel.mjs spawns it:
//
//     node --expose-gc bench/lib/parallel-worker.mjs ENGINE N REPS
//
//   ENGINE  promise-all (Promise.all over the task functions' promises), tsexec
//           (lib.all of lib.task steps, the Promise `run`), tsexec@DIR (another
//           built checkout), effect-latest / effect (Effect.all of Effect.promise
//           steps with { concurrency: "unbounded" }, Effect.runPromise)
//
// Every run builds its program from the same task functions and runs it; the
// time is both (what a script pays). Prints { ms[] }; each run's result is checked.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "./measure.mjs";

const [spec, nText, repsText] = process.argv.slice(2);
const n = Number(nText);
const reps = Number(repsText);
const tasks = Array.from({ length: n }, (_, i) => () => Promise.resolve(i));

async function loadEngine() {
  const [name, root = projectRoot] = spec.split("@");
  switch (name) {
    case "promise-all":
      return () => Promise.all(tasks.map((f) => f()));
    case "tsexec": {
      const { all, task, run } = await import(pathToFileURL(join(root, "dist", "index.js")).href);
      return () => run(all(tasks.map((f) => task(f))));
    }
    case "effect":
    case "effect-latest": {
      const { Effect } = await import(name);
      return () => Effect.runPromise(Effect.all(tasks.map((f) => Effect.promise(f)), { concurrency: "unbounded" }));
    }
    default:
      throw new Error(`unknown engine '${name}' (promise-all, tsexec, effect, effect-latest)`);
  }
}

const runOnce = await loadEngine();
const ms = [];
for (let i = -3; i < reps; i++) {
  globalThis.gc?.();
  const started = process.hrtime.bigint();
  const values = await runOnce();
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (values.length !== n || values[0] !== 0 || values[n - 1] !== n - 1) throw new Error(`${spec} yielded a wrong result`);
  if (i >= 0) ms.push(elapsed);
}
process.stdout.write(JSON.stringify({ ms }) + "\n");
