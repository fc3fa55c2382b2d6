#!/usr/bin/env node
// Builds the `hoist` command into dist/cli/ (run by `npm ci`/`npm install` through the `prepare`
// script, by `npm run build`, and by the test suite's global setup): one esbuild bundle of the
// TypeScript sources, so that `bin/hoist.mjs` starts compiled JavaScript instead of compiling
// TypeScript at every start. Each command's code is a chunk imported only when that command runs.
//
// npm packages stay external (loaded from node_modules as they are: fs-ext is a native addon, pino
// and gRPC find files of their own at run time), except the pure JavaScript ones in BUNDLED: zod
// alone is 224 ES modules and yaml 72 CommonJS files, and resolving and compiling each file costs
// more at start than the code does (bench/cli-start.bench.ts: `hoist status` 3.8x `node -e 0` with
// them external).
//
// dist/cli/ sits two directories below the repository root, as every source file does
// (shared/proto/load.ts, ...), so paths the code resolves from its own location (proto/) match.
import { build } from "esbuild";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const target = join(root, "dist", "cli");
// Built beside, then swapped in: a `hoist` started meanwhile finds the old build or the new one.
const outdir = `${target}.new-${process.pid}`;
const old = `${target}.old-${process.pid}`;

/** npm packages bundled into dist/cli: pure JavaScript, no native addon, no file read beside their code. */
const BUNDLED = new Set(["zod", "yaml", "commander"]);

/** Every other npm package stays an import of node_modules. */
const externalPackages = {
  name: "external-packages",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:")) return { external: true };
      const name = args.path.startsWith("@") ? args.path.split("/").slice(0, 2).join("/") : args.path.split("/")[0];
      return BUNDLED.has(name) ? undefined : { external: true };
    });
  },
};

await build({
  absWorkingDir: root,
  entryPoints: { main: "cli/main.ts", "snapshot-worker": "agent/snapshot/worker.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  plugins: [externalPackages],
  // yaml is CommonJS and requires node:process: an ES module has no `require` of its own.
  banner: { js: 'import { createRequire as __hoistCreateRequire } from "node:module"; const require = __hoistCreateRequire(import.meta.url);' },
  outExtension: { ".js": ".mjs" },
  chunkNames: "[name]-[hash]",
  sourcemap: "linked",
  logLevel: "warning",
});
await rename(target, old).catch((err) => {
  if (err.code !== "ENOENT") throw err;
});
await rename(outdir, target);
await rm(old, { recursive: true, force: true });
