#!/usr/bin/env node
// Builds the `hoist` command into dist/cli/ (run by `npm ci`/`npm install` through the `prepare`
// script, by `npm run build`, and by the test suite's global setup): one esbuild bundle of the
// TypeScript sources, so that `bin/hoist.mjs` starts compiled JavaScript instead of compiling
// TypeScript at every start. npm packages stay external (loaded from node_modules as they are:
// fs-ext is a native addon); each command's code is a chunk imported only when that command runs.
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

await build({
  absWorkingDir: root,
  entryPoints: { main: "cli/main.ts", "snapshot-worker": "agent/snapshot/worker.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
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
