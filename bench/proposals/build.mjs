// PROPOSAL for scripts/build.mjs (not used by the benchmarks): builds dist/ so that
// the warm start-up path loads ONE ES module of tsexec instead of seven.
// Measured with bench/startup.mjs: see bench/proposals/README.md.
//
// - dist/index.js holds the public API and the CLI's `main` (the launcher imports
//   it, and so do scripts' `import ... from "tsexec"`: one module, one state);
// - modules only the cold path or --help need (transpile, help) are built apart
//   into dist/lazy/ and imported when used (their stateless helpers are copied in);
// - dist/unsafe-lib.js takes makeLib from dist/index.js (shared state);
// - `node:` builtins are read through process.getBuiltinModule (Node >= 20.16),
//   which skips the ES-module facade Node builds for each imported builtin.
// The launcher then imports "../dist/index.js"; dist/cli.js stays as a re-export.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const root = new URL("..", import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version;
const staging = `${root}dist.${process.pid}.tmp`;
const old = `${root}dist.${process.pid}.old`;
const require = createRequire(import.meta.url);

const common = {
  absWorkingDir: root,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  define: { __TSEXEC_VERSION__: JSON.stringify(version) },
  logLevel: "warning",
};

/** `await import("./transpile.js")` and `("./help.js")` stay lazy: they point at dist/lazy/. */
const lazyModules = {
  name: "lazy-modules",
  setup(b) {
    b.onResolve({ filter: /^\.\/(transpile|help)\.js$/ }, (args) =>
      args.kind === "dynamic-import" ? { path: `./lazy/${args.path.slice(2)}`, external: true } : undefined,
    );
  },
};

/** `import { x } from "node:fs"` becomes `process.getBuiltinModule("node:fs").x` (no ESM facade). */
const builtinsByGetter = {
  name: "builtins-by-getter",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "builtin" }));
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const mod = require(args.path);
      // Accessors (fs.promises, fs.ReadStream ...) are left out: reading them loads more of Node.
      const names = Object.keys(mod).filter(
        (n) => n !== "default" && /^[A-Za-z_$][\w$]*$/.test(n) && !Object.getOwnPropertyDescriptor(mod, n).get,
      );
      const contents = `const m = process.getBuiltinModule(${JSON.stringify(args.path)});\nexport default m;\nexport const { ${names.join(", ")} } = m;\n`;
      return { contents, loader: "js" };
    });
  },
};

/** unsafe-lib shares dist/index.js's module (and its state) instead of a copy. */
const libFromIndex = {
  name: "lib-from-index",
  setup(b) {
    b.onResolve({ filter: /^\.\/runtime\/lib\.js$/ }, () => ({ path: "./index.js", external: true }));
  },
};

try {
  await build({
    ...common,
    stdin: {
      contents: `export * from "./src/index.ts";\nexport { main } from "./src/runtime/cli.ts";\n`,
      resolveDir: root,
      sourcefile: "dist-index.ts",
      loader: "ts",
    },
    outfile: `${staging}/index.js`,
    plugins: [lazyModules, builtinsByGetter],
  });
  await build({
    ...common,
    entryPoints: { transpile: "src/runtime/loader/transpile.ts", help: "src/runtime/help.ts" },
    outdir: `${staging}/lazy`,
  });
  await build({ ...common, entryPoints: { "unsafe-lib": "src/unsafe-lib.ts" }, outdir: staging, plugins: [libFromIndex] });
  writeFileSync(`${staging}/cli.js`, `export { main } from "./index.js";\n`);
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.json`, "--outDir", staging], {
    stdio: "inherit",
  });
  if (existsSync(`${root}dist`)) renameSync(`${root}dist`, old);
  renameSync(staging, `${root}dist`);
} finally {
  rmSync(staging, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
