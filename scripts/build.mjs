// Builds dist/. Start-up is a feature, so tsexec's own code is shaped for it:
//
//   dist/core.cjs        src/ bundled into one script (npm packages stay
//                        external and load when first used), minified: what a
//                        warm run reaches without `import()`
//   dist/core.cjs.cache  V8's code cache for it, made by running tsexec once
//   dist/lazy.cjs        what lib's heavier primitives load on first call (dlopen,
//                        derivations, fetchgit, reexec, lib.import: see
//                        src/cli/on-first-use.ts), with dist/lazy.cjs.cache
//   dist/cold.cjs        the rest: modules only `import()` reaches (subcommands,
//                        the transpiler, inputs, references, the npm store, git
//                        checkouts), with its code cache dist/cold.cjs.cache
//   dist/index.js        the package entry: an ES module facade that compiles
//                        core.cjs with that cache and re-exports its API, and
//                        compiles lazy.cjs and cold.cjs when first needed
//   dist/unsafe-lib.js   `tsexec/unsafe-lib`, on top of the facade
//   dist/show-parser.mjs the child process `tsexec show` parses untrusted files in
//   dist/check-worker.mjs the child process `tsexec check` runs TypeScript's API in
//   dist/git.cjs         simple-git and its dependencies in one script, with its
//                        code cache dist/git.cjs.cache: loaded (src/builtins/
//                        fetchgit/git.ts) only when a fetch runs git
//   dist/**/*.d.ts       types, from tsc
//
// `node scripts/build.mjs --no-minify` keeps names, for profiles (node --cpu-prof).
//
// Node 20 has no compile cache for ES modules: importing a 70 KiB module costs
// about 6 ms here, compiling the same code as a script with its code cache
// about 2; and that cost grows with the script, so what a warm run never uses is
// kept out of the core. The new dist is assembled beside the old one and swapped in whole.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve as resolvePath } from "node:path";

const requireBuiltin = createRequire(import.meta.url);
const root = new URL("..", import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version;
const staging = `${root}dist.${process.pid}.tmp`;
const old = `${root}dist.${process.pid}.old`;

/**
 * `import { x } from "node:fs"` makes Node build an ES-module facade of each builtin, and
 * even `process.getBuiltinModule` loads a builtin that start-up never needed (node:module,
 * node:os ...). So each builtin becomes a module of forwarders that load it on first call:
 * functions forward; other values (constants, classes) are read when used, tree-shaken if not.
 */
const builtinsByGetter = {
  name: "builtins-by-getter",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "builtin" }));
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const mod = requireBuiltin(args.path);
      const lines = [`let m;`, `const load = () => (m ??= process.getBuiltinModule(${JSON.stringify(args.path)}));`, `const pick = (name) => load()[name];`];
      lines.push(`export default /* @__PURE__ */ load();`);
      for (const name of Object.keys(mod)) {
        if (name === "default" || !/^[A-Za-z_$][\w$]*$/.test(name) || Object.getOwnPropertyDescriptor(mod, name).get) continue;
        const value = mod[name];
        const isPlainFunction = typeof value === "function" && !/^class\b/.test(Function.prototype.toString.call(value)) && !/^[A-Z]/.test(name);
        lines.push(
          isPlainFunction
            ? `export function ${name}(...args) { return load().${name}(...args); }`
            : `export const ${name} = /* @__PURE__ */ pick(${JSON.stringify(name)});`,
        );
      }
      return { contents: lines.join("\n"), loader: "js" };
    });
  },
};

/** A script cannot `import()`: the core receives the facade's own `import()` instead (src/base/dynamic-import.ts). */
const importFromFacade = {
  name: "import-from-facade",
  setup(b) {
    b.onLoad({ filter: /\/src\/base\/dynamic-import\.ts$/ }, () => ({
      contents: "export const dynamicImport = (specifier) => __tsexec_import(specifier);",
      loader: "js",
    }));
  },
};

/**
 * The core may use Node's builtins (through the forwarders above), nothing else,
 * when it loads: a static import of an npm package (yargs, simple-git, koffi ...)
 * would make every run pay for it, and a dynamic one cannot run in a script. Load
 * those with createRequire or src/base/dynamic-import.ts where they are used.
 */
function assertLeanStartup(metafile) {
  const imports = Object.values(metafile.outputs).flatMap((output) =>
    output.imports.filter(
      (i) => i.external && !(i.kind === "dynamic-import" && i.path.startsWith(coldPrefix)) && !(i.kind === "require-call" && i.path.startsWith(firstUsePrefix)),
    ),
  );
  if (imports.length) {
    throw new Error(`the core imports ${imports.map((i) => `${i.path} (${i.kind})`).join(", ")}: load them lazily where they are used`);
  }
}

/**
 * Modules a run reaches only through `import()` (subcommands, the transpiler, inputs,
 * references, the npm store ...) go to a second script, dist/cold.cjs, compiled (with its own
 * code cache) the first time one of them is imported: a warm run compiles only the core.
 * Every module is in exactly one of the two (module state and class identity exist once): a
 * module the core has is given to the cold script as the core's own namespace object, not
 * bundled again. The `import()`s named here stay in the core: they are on the warm path.
 */
const warmDynamicImports = new Set(["src/cli/commands/run.ts"]);
const coldPrefix = "tsexec-cold:";
const firstUsePrefix = "tsexec-first-use:";
const scriptHead = "(function (exports, require, module, __tsexec_url, __tsexec_import, __tsexec_core_modules, __tsexec_cold, __tsexec_lazy, __tsexec_export) {";

/**
 * src/cli/on-first-use.ts: each `export const loadX = (): typeof x => x;` (for its
 * `import * as x from "…"`) becomes a synchronous load of that module from a third script,
 * dist/lazy.cjs, so the core leaves out the primitives a warm run never uses (dlopen,
 * derivations, fetchgit …), and a script using one loads them without the cold script.
 */
const firstUseLoaders = {
  name: "first-use-loaders",
  setup(b) {
    b.onLoad({ filter: /\/src\/cli\/on-first-use\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const modules = new Map([...text.matchAll(/^import \* as (\w+) from "([^"]+)";$/gm)].map(([, name, specifier]) => [name, sourceOf(dirname(args.path), specifier)]));
      const loaders = [...text.matchAll(/^export const (\w+) = \(\): typeof (\w+) => (\w+);$/gm)];
      const exports = (text.match(/^export /gm) ?? []).length;
      if (loaders.length !== exports || loaders.some(([, , type, value]) => type !== value || !modules.has(value))) {
        throw new Error(`${args.path}: every export must read \`export const loadX = (): typeof x => x;\` for an \`import * as x from "…"\``);
      }
      const contents = loaders.map(([, name, , value]) => `export const ${name} = () => require(${JSON.stringify(firstUsePrefix + modules.get(value))});`).join("\n");
      return { contents, loader: "js" };
    });
    b.onResolve({ filter: new RegExp(`^${firstUsePrefix}`) }, (args) => ({ path: args.path, external: true }));
  },
};
const scriptTail = "\n})";

const sourceOf = (resolveDir, specifier) => relative(root, resolvePath(resolveDir, specifier.replace(/\.js$/, ".ts")));

const bundleOptions = {
  absWorkingDir: root,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  packages: "external",
  define: { __TSEXEC_VERSION__: JSON.stringify(version), __TSEXEC_GIT_BUNDLE__: JSON.stringify("git.cjs"), "import.meta.url": "__tsexec_url" },
  minify: !process.argv.includes("--no-minify"),
  write: false,
  metafile: true,
  logLevel: "warning",
};

const sourcesIn = (metafile) => new Set(Object.keys(metafile.inputs).filter((p) => p.startsWith("src/")));

/** The core: src/index.ts, its cold `import()`s left as `tsexec-cold:` externals, and the namespaces the cold script takes from it. */
function buildCore(coreSources, shared, api) {
  const lines = [`import { ${api.map((name, i) => `${name} as api${i}`).join(", ")} } from "./src/index.ts";`];
  const entries = [...shared].map(([source, names], i) => {
    const path = JSON.stringify(`./${source}`);
    if (names.has("*")) {
      lines.push(`import * as m${i} from ${path};`);
      return `${JSON.stringify(source)}: m${i}`;
    }
    // Only the names the cold script uses, so the core keeps tree-shaking the rest; getters keep the bindings live.
    const list = [...names];
    lines.push(`import { ${list.map((name, j) => `${name} as m${i}_${j}`).join(", ")} } from ${path};`);
    return `${JSON.stringify(source)}: { ${list.map((name, j) => `get ${name}() { return m${i}_${j}; }`).join(", ")} }`;
  });
  // A function: the warm path never builds these objects.
  lines.push(`const __tsexec_modules = () => ({ ${entries.join(", ")} });`);
  // Plain values for the facade, which reads each once: ES exports would become getters over
  // getters (esbuild's CommonJS interop), about 17 kB the warm run would allocate for nothing.
  lines.push(`__tsexec_export({ ${api.map((name, i) => `${name}: api${i}`).join(", ")}, __tsexec_modules });`);
  const coldImports = {
    name: "cold-imports",
    setup(b) {
      b.onResolve({ filter: /^\.\.?\//, namespace: "file" }, (args) => {
        if (args.kind !== "dynamic-import") return undefined;
        const source = sourceOf(args.resolveDir, args.path);
        if (warmDynamicImports.has(source) || coreSources.has(source)) return undefined;
        return { path: coldPrefix + source, external: true };
      });
    },
  };
  return build({
    ...bundleOptions,
    stdin: { contents: lines.join("\n"), resolveDir: root, sourcefile: "core-entry.js", loader: "js" },
    outfile: `${staging}/core.cjs`,
    plugins: [builtinsByGetter, importFromFacade, firstUseLoaders, coldImports],
  });
}

/**
 * The lazy script: the modules behind src/cli/on-first-use.ts, and whatever the cold
 * script takes from them, each in `now` (loaded synchronously); a module the core has is
 * read from `__tsexec_core_modules`.
 */
function buildLazy(entries, coreSources, shared) {
  const lines = [`export const now = ${table(entries, "require")};`];
  return build({
    ...bundleOptions,
    stdin: { contents: lines.join("\n"), resolveDir: root, sourcefile: "lazy-entry.js", loader: "js" },
    outfile: `${staging}/lazy.cjs`,
    plugins: [builtinsByGetter, importFromFacade, fromOtherScripts(coreSources, shared, new Set(), new Set())],
  });
}

/**
 * The cold script: the core's cold `import()` targets (`modules`); a module the core has is
 * read from `__tsexec_core_modules`, one the lazy script has is loaded from it (and added
 * to `fromLazy`, so the lazy script offers it).
 */
function buildCold(entries, coreSources, shared, lazySources, fromLazy) {
  // Each module is evaluated when first imported, as it was in one bundle (some load builtins as they start).
  const lines = [`export const modules = ${table(entries, "import")};`];
  return build({
    ...bundleOptions,
    stdin: { contents: lines.join("\n"), resolveDir: root, sourcefile: "cold-entry.js", loader: "js" },
    outfile: `${staging}/cold.cjs`,
    plugins: [builtinsByGetter, importFromFacade, fromOtherScripts(coreSources, shared, lazySources, fromLazy)],
  });
}

/** `{ "src/x.ts": () => load("./src/x.ts"), … }`. */
const table = (sources, load) => `{ ${[...sources].map((source) => `${JSON.stringify(source)}: () => ${load}(${JSON.stringify(`./${source}`)})`).join(", ")} }`;

/**
 * Modules of the core (and of the lazy script) are taken from there, not bundled again. The
 * names taken from the core (`shared`) become plain constants, read once: a call into the core
 * then costs what a call inside one script does, where an import of a CommonJS object would go
 * through two getters on every use (dlopen's re-run, bench/native.mjs). The core's modules
 * export no binding that changes (the build checks), and they are all initialised before
 * another script loads (the core's entry imports them).
 */
function fromOtherScripts(coreSources, shared, lazySources, fromLazy) {
  return {
    name: "from-other-scripts",
    setup(b) {
      b.onResolve({ filter: /^\.\.?\//, namespace: "file" }, (args) => {
        const source = sourceOf(args.resolveDir, args.path);
        if (coreSources.has(source)) return { path: source, namespace: "core" };
        if (lazySources.has(source)) return { path: source, namespace: "lazy" };
        return undefined;
      });
      b.onLoad({ filter: /.*/, namespace: "core" }, (args) => {
        const from = `__tsexec_core_modules[${JSON.stringify(args.path)}]`;
        const names = shared.get(args.path);
        if (names === undefined || names.has("*")) return { contents: `module.exports = ${from};`, loader: "js" };
        const constants = [...names].map((name) => (name === "default" ? `export default __m.default;` : `export const ${name} = __m.${name};`));
        return { contents: [`const __m = ${from};`, ...constants].join("\n"), loader: "js" };
      });
      b.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => {
        fromLazy.add(args.path);
        return { contents: `module.exports = __tsexec_lazy(${JSON.stringify(args.path)});`, loader: "js" };
      });
    },
  };
}

/**
 * What the cold script's modules import from modules the core has: source → the names
 * ("*" for a namespace import, a re-export of all, or an `import()`).
 */
function importedFromCore(coldSources, coreSources) {
  const ts = requireBuiltin("typescript");
  const imported = new Map();
  const add = (file, specifier, names) => {
    if (!/^\.\.?\//.test(specifier)) return;
    const source = sourceOf(dirname(join(root, file)), specifier);
    if (!coreSources.has(source)) return;
    const set = imported.get(source) ?? new Set();
    for (const name of names) set.add(name);
    imported.set(source, set);
  };
  for (const file of coldSources) {
    const tree = ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        const clause = node.importClause;
        if (clause && !clause.isTypeOnly) {
          const names = [];
          if (clause.name) names.push("default");
          const bindings = clause.namedBindings;
          if (bindings && ts.isNamespaceImport(bindings)) names.push("*");
          else if (bindings) for (const e of bindings.elements) if (!e.isTypeOnly) names.push((e.propertyName ?? e.name).text);
          add(file, node.moduleSpecifier.text, names);
        } else if (!clause) add(file, node.moduleSpecifier.text, []);
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
        const clause = node.exportClause;
        const names = !clause || ts.isNamespaceExport(clause) ? ["*"] : clause.elements.filter((e) => !e.isTypeOnly).map((e) => (e.propertyName ?? e.name).text);
        add(file, node.moduleSpecifier.text, names);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
        add(file, node.arguments[0].text, ["*"]);
      }
      ts.forEachChild(node, visit);
    };
    visit(tree);
  }
  return imported;
}

const sameSet = (a, b) => a.size === b.size && [...a].every((x) => b.has(x));
const sameImports = (a, b) => a.size === b.size && [...a].every(([source, names]) => b.has(source) && sameSet(names, b.get(source)));

/**
 * Builds the three scripts until they agree: the namespaces the other scripts take from the
 * core keep whole modules in the core, which may reach modules that were not, and so on; and
 * what the cold script takes from the lazy one must be in the lazy one's table.
 */
async function splitBundles(api) {
  let coreSources = new Set();
  let shared = new Map();
  let lazyEntries = new Set();
  for (let round = 0; round < 20; round++) {
    const core = await buildCore(coreSources, shared, api);
    const nextCoreSources = sourcesIn(core.metafile);
    const entries = new Set();
    const firstUse = new Set();
    for (const output of Object.values(core.metafile.outputs)) {
      for (const i of output.imports) {
        if (i.path.startsWith(coldPrefix)) entries.add(i.path.slice(coldPrefix.length));
        if (i.path.startsWith(firstUsePrefix)) firstUse.add(i.path.slice(firstUsePrefix.length));
      }
    }
    const nextLazyEntries = new Set([...firstUse, ...[...lazyEntries].filter((source) => !nextCoreSources.has(source))]);
    const lazy = await buildLazy(nextLazyEntries, nextCoreSources, shared);
    const lazySources = sourcesIn(lazy.metafile);
    const fromLazy = new Set();
    const cold = await buildCold(entries, nextCoreSources, shared, lazySources, fromLazy);
    const nextShared = importedFromCore(new Set([...sourcesIn(cold.metafile), ...lazySources]), nextCoreSources);
    const stable = sameSet(nextCoreSources, coreSources) && sameImports(nextShared, shared) && [...fromLazy].every((source) => nextLazyEntries.has(source));
    coreSources = nextCoreSources;
    shared = nextShared;
    lazyEntries = new Set([...nextLazyEntries, ...fromLazy]);
    if (!stable) continue;
    for (const source of shared.keys()) {
      if (/^\s*export\s+(let|var)\b/m.test(readFileSync(join(root, source), "utf8"))) {
        throw new Error(`${source} exports a variable, which the lazy and cold scripts would read once: export a function that returns it`);
      }
    }
    const scripts = { core: coreSources, lazy: lazySources, cold: sourcesIn(cold.metafile) };
    for (const [a, b] of [["core", "lazy"], ["core", "cold"], ["lazy", "cold"]]) {
      const twice = [...scripts[a]].filter((source) => scripts[b].has(source));
      if (twice.length) throw new Error(`in both ${a} and ${b}: ${twice.join(", ")}`);
    }
    assertLeanStartup(core.metafile);
    assertLeanStartup(lazy.metafile);
    assertLeanStartup(cold.metafile);
    if (process.env.TSEXEC_BUILD_SIZES === "1") for (const [name, result] of Object.entries({ core, lazy, cold })) printSizes(name, result.metafile);
    // The core's cold `import()`s call the facade, which loads the cold script; its first-use loads, the lazy one.
    const coreCode = core.outputFiles[0].text
      .replace(/\bimport\((["'`])tsexec-cold:([^"'`]+)\1\)/g, (_, q, source) => `__tsexec_cold(${JSON.stringify(source)})`)
      .replace(/\brequire\((["'`])tsexec-first-use:([^"'`]+)\1\)/g, (_, q, source) => `__tsexec_lazy(${JSON.stringify(source)})`);
    if (coreCode.includes(coldPrefix)) throw new Error("a cold import() was left in the core");
    if (coreCode.includes(firstUsePrefix)) throw new Error("a first-use require() was left in the core");
    return { core: coreCode, lazy: lazy.outputFiles[0].text, cold: cold.outputFiles[0].text };
  }
  throw new Error("the core and cold bundles do not converge");
}

/** `TSEXEC_BUILD_SIZES=1`: what each source adds to each script, largest first. */
function printSizes(name, metafile) {
  console.log(`${name}.cjs:`);
  const inputs = Object.values(metafile.outputs)[0].inputs;
  const rows = Object.entries(inputs).map(([source, { bytesInOutput }]) => [source, bytesInOutput]).sort((a, b) => b[1] - a[1]);
  for (const [source, bytes] of rows) console.log(`${String(bytes).padStart(7)}  ${source}`);
}

/**
 * What a warm run compiles: every function the core declares is instantiated as it starts,
 * so its size is start-up time. Raise this only knowingly; first consider loading the new code
 * with `import()` (subcommands, cold paths) or src/cli/on-first-use.ts (lib primitives).
 */
const coreBudget = 64 * 1024;

function checkCoreBudget(core) {
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  if (core.length > coreBudget) {
    throw new Error(`dist/core.cjs is ${kib(core.length)}, over its budget of ${kib(coreBudget)} (scripts/build.mjs coreBudget): load what a warm run does not need lazily`);
  }
  return `dist/core.cjs ${kib(core.length)} (budget ${kib(coreBudget)})`;
}

/**
 * A bundle as the facade compiles it: wrapped in its function expression here, so the facade
 * compiles the file's text as it is read (Node's one-call UTF-8 read; ASCII text becomes a
 * one-byte string) instead of a wrapped copy of it, which would be young garbage to collect.
 */
const asScript = (code) => scriptHead + code + scriptTail;

/** The names src/index.ts exports, for the facade. */
async function publicNames() {
  const result = await build({
    entryPoints: ["src/index.ts"],
    absWorkingDir: root,
    bundle: true,
    format: "esm",
    platform: "node",
    packages: "external",
    write: false,
    metafile: true,
    outdir: staging,
    logLevel: "silent",
  });
  return Object.values(result.metafile.outputs)[0].exports;
}

/** The facade: compiles core.cjs with its code cache (a stale or foreign cache is only slower), and cold.cjs when first imported. */
function facade(names) {
  return `// Generated by scripts/build.mjs: tsexec's core is dist/core.cjs, compiled with V8's code cache;
// what only some runs use is dist/lazy.cjs (lib's heavier primitives) and dist/cold.cjs, each compiled when first used.
const fs = process.getBuiltinModule("node:fs");
const vm = process.getBuiltinModule("node:vm");
const compiled = [];
const require = (id) => process.getBuiltinModule("node:module").createRequire(import.meta.url)(id);
const load = (name, coreModules) => {
  const file = new URL("./" + name, import.meta.url).pathname;
  let cachedData;
  try { cachedData = fs.readFileSync(file + ".cache"); } catch {}
  // The file is the whole function expression (see asScript in scripts/build.mjs): compiled as it is read.
  const script = new vm.Script(fs.readFileSync(file, "utf8"), { filename: file, cachedData });
  compiled.push({ file, script });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, import.meta.url, (specifier) => import(specifier), coreModules, loadCold, loadLazy, (api) => (module.exports = api));
  return module.exports;
};
let shared, cold, lazy;
const coreModulesOnce = () => (shared ??= core.__tsexec_modules());
const loadCold = (source) => new Promise((resolve) => resolve((cold ??= load("cold.cjs", coreModulesOnce())).modules[source]()));
// A first-use load (src/cli/on-first-use.ts), or the cold script's import of a lazy module: synchronous, each namespace made once.
const loaded = new Map();
const loadLazy = (source) => loaded.get(source) ?? loaded.set(source, (lazy ??= load("lazy.cjs", coreModulesOnce())).now[source]()).get(source);
const core = load("core.cjs");
// \`TSEXEC_WRITE_CODE_CACHE=core.cjs\` (or cold.cjs; the build) saves that script's code cache once a real run has compiled what it runs.
const toCache = process.env.TSEXEC_WRITE_CODE_CACHE;
if (toCache) process.once("exit", () => { for (const { file, script } of compiled) if (file.endsWith("/" + toCache)) { fs.writeFileSync(file + ".cache.tmp", script.createCachedData()); fs.renameSync(file + ".cache.tmp", file + ".cache"); } });
export const { ${names.join(", ")} } = core;
`;
}

/** simple-git and its dependencies as one script (see the header): the cold fetch stops requiring a dozen files. */
async function buildGitBundle() {
  await build({
    stdin: { contents: `module.exports = require("simple-git");`, resolveDir: root, sourcefile: "git-entry.cjs", loader: "js" },
    absWorkingDir: root,
    outfile: `${staging}/git.cjs`,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    minify: !process.argv.includes("--no-minify"),
    logLevel: "error",
  });
}

/**
 * git.cjs's code cache, made after running one git command through it (so the functions a fetch
 * runs are in it; without git, after the attempt). The wrapper is the one git.ts compiles it in:
 * V8 refuses a cache for other source.
 */
function makeGitCodeCache() {
  const file = `${root}dist/git.cjs`;
  const program = `const fs = require("node:fs"), vm = require("node:vm"), file = ${JSON.stringify(file)};
const script = new vm.Script("(function (exports, require, module) {" + fs.readFileSync(file, "utf8") + "\\n})", { filename: file });
const module = { exports: {} };
script.runInThisContext()(module.exports, require("node:module").createRequire(file), module);
const save = () => fs.writeFileSync(file + ".cache", script.createCachedData());
module.exports.simpleGit({ baseDir: ${JSON.stringify(root)} }).raw(["--version"]).then(save, save);`;
  execFileSync(process.execPath, ["-e", program], { stdio: "inherit" });
}

/**
 * Runs tsexec twice on examples/hello.ts, each time saving a code cache as the run exits: the
 * first run (a fresh script cache) transpiles, and saves the cold script's cache with the
 * transpiler's path compiled; the second (warm) saves the core's with the warm path compiled.
 */
function makeCodeCaches() {
  const cacheDir = mkdtempSync(join(tmpdir(), "tsexec-build-"));
  try {
    const run = (script) =>
      execFileSync(process.execPath, [`${root}shebang/tsexec`, `${root}examples/hello.ts`], {
        env: { ...process.env, TSEXEC_CACHE_DIR: cacheDir, TSEXEC_WRITE_CODE_CACHE: script },
        stdio: "ignore",
      });
    run("cold.cjs");
    run("core.cjs");
    for (const script of ["core.cjs", "cold.cjs"]) if (!existsSync(`${root}dist/${script}.cache`)) throw new Error(`no code cache was written for dist/${script}`);
    // The lazy script serves many primitives, none of which a build can run everywhere: its top level only.
    const file = `${root}dist/lazy.cjs`;
    const program = `const fs = require("node:fs"), vm = require("node:vm"), file = ${JSON.stringify(file)};
fs.writeFileSync(file + ".cache", new vm.Script(fs.readFileSync(file, "utf8"), { filename: file }).createCachedData());`;
    execFileSync(process.execPath, ["-e", program], { stdio: "inherit" });
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

try {
  const api = await publicNames();
  const { core, lazy, cold } = await splitBundles(api);
  mkdirSync(staging, { recursive: true });
  const budgetLine = checkCoreBudget(asScript(core));
  writeFileSync(`${staging}/core.cjs`, asScript(core));
  writeFileSync(`${staging}/lazy.cjs`, asScript(lazy));
  writeFileSync(`${staging}/cold.cjs`, asScript(cold));
  writeFileSync(`${staging}/index.js`, facade(api));
  await buildGitBundle();
  await build({
    entryPoints: ["src/unsafe-lib.ts"],
    absWorkingDir: root,
    outfile: `${staging}/unsafe-lib.js`,
    bundle: true,
    format: "esm",
    platform: "node",
    external: ["./index.js"],
    logLevel: "warning",
  });
  // Child processes of their own: `tsexec show` parses untrusted files in one (src/cli/commands/show/parser.ts),
  // `tsexec check` runs TypeScript's API in another (src/cli/commands/check/worker.ts).
  for (const [entry, out] of [["src/cli/commands/show/parser.ts", "show-parser.mjs"], ["src/cli/commands/check/worker.ts", "check-worker.mjs"]]) {
    await build({
      entryPoints: [entry],
      absWorkingDir: root,
      outfile: `${staging}/${out}`,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      logLevel: "warning",
    });
  }
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.json`, "--outDir", staging], {
    stdio: "inherit",
  });
  if (existsSync(`${root}dist`)) renameSync(`${root}dist`, old);
  renameSync(staging, `${root}dist`);
  makeCodeCaches();
  makeGitCodeCache();
  console.log(`${budgetLine}, dist/lazy.cjs ${(lazy.length / 1024).toFixed(1)} KiB, dist/cold.cjs ${(cold.length / 1024).toFixed(1)} KiB`);
} finally {
  rmSync(staging, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
