// Builds dist/: esbuild bundles the entry points (shared code in chunks, npm
// packages left external and loaded lazily), tsc emits the .d.ts files. The
// new dist is assembled beside the old one and swapped in whole.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readFileSync, renameSync, rmSync, existsSync } from "node:fs";
import { createRequire } from "node:module";

const requireBuiltin = createRequire(import.meta.url);

/**
 * `import { x } from "node:fs"` makes Node build an ES-module facade of each builtin at
 * start-up (about 1 ms for the five we use). Read them through process.getBuiltinModule
 * (Node >= 20.16) instead. Accessor exports (fs.promises, fs.ReadStream ...) are left out:
 * reading them would load more of Node.
 */
const builtinsByGetter = {
  name: "builtins-by-getter",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "builtin" }));
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const mod = requireBuiltin(args.path);
      const names = Object.keys(mod).filter(
        (n) => n !== "default" && /^[A-Za-z_$][\w$]*$/.test(n) && !Object.getOwnPropertyDescriptor(mod, n).get,
      );
      const contents = `const m = process.getBuiltinModule(${JSON.stringify(args.path)});\nexport default m;\nexport const { ${names.join(", ")} } = m;\n`;
      return { contents, loader: "js" };
    });
  },
};

const root = new URL("..", import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version;
const staging = `${root}dist.${process.pid}.tmp`;
const old = `${root}dist.${process.pid}.old`;

/**
 * Start-up is a feature: the entry may import Node's builtins statically, nothing
 * else. A static import of an npm package (yargs, simple-git, koffi ...) would make
 * every run pay for it; load those with `await import()` or createRequire where used.
 */
function assertLeanStartup(file) {
  const text = readFileSync(file, "utf8");
  const heavy = [...text.matchAll(/^import\s[^;]*?from\s+"([^"]+)";?$/gms)]
    .map((m) => m[1])
    .filter((specifier) => !specifier.startsWith("node:"));
  if (heavy.length) {
    throw new Error(`dist/index.js imports ${heavy.join(", ")} at start-up: import them lazily where they are used`);
  }
}

/** `./index.js` imported by other entry points is the package entry itself, not a copy of it. */
const packageEntryStaysExternal = {
  name: "package-entry-stays-external",
  setup(b) {
    b.onResolve({ filter: /^\.\/index\.js$/ }, (args) =>
      args.importer.endsWith("/src/unsafe-lib.ts") ? { path: "./index.js", external: true } : undefined,
    );
  },
};

try {
  await build({
    // One file holds everything start-up needs (the launcher and scripts importing
    // "tsexec" share it); code needed only sometimes lands in lazily imported chunks.
    entryPoints: { index: "src/index.ts", "unsafe-lib": "src/unsafe-lib.ts" },
    plugins: [packageEntryStaysExternal, builtinsByGetter],
    absWorkingDir: root,
    outdir: staging,
    bundle: true,
    // No chunks: our own lazily imported modules are small, so they are inlined and
    // start-up reads one file. npm packages stay external and load when first used.
    splitting: false,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    define: { __TSEXEC_VERSION__: JSON.stringify(version) },
    minify: true,
    logLevel: "warning",
  });
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.json`, "--outDir", staging], {
    stdio: "inherit",
  });
  assertLeanStartup(`${staging}/index.js`);
  if (existsSync(`${root}dist`)) renameSync(`${root}dist`, old);
  renameSync(staging, `${root}dist`);
} finally {
  rmSync(staging, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
