// Builds dist/: esbuild bundles the entry points (shared code in chunks, npm
// packages left external and loaded lazily), tsc emits the .d.ts files. The
// new dist is assembled beside the old one and swapped in whole.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readFileSync, renameSync, rmSync, existsSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version;
const staging = `${root}dist.${process.pid}.tmp`;
const old = `${root}dist.${process.pid}.old`;

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
    plugins: [packageEntryStaysExternal],
    absWorkingDir: root,
    outdir: staging,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    chunkNames: "chunks/[name]-[hash]",
    define: { __TSEXEC_VERSION__: JSON.stringify(version) },
    logLevel: "warning",
  });
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.json`, "--outDir", staging], {
    stdio: "inherit",
  });
  if (existsSync(`${root}dist`)) renameSync(`${root}dist`, old);
  renameSync(staging, `${root}dist`);
} finally {
  rmSync(staging, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
