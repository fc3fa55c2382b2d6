#!/usr/bin/env node
// Entry point of the `hoist` command: runs the compiled CLI (dist/cli/, built by `npm ci` through
// the `prepare` script, or `npm run build`). Without a build it runs the TypeScript sources through
// tsx, which compiles them at every start (about twice as slow to start), and says so.
import { existsSync } from "node:fs";

const built = new URL("../dist/cli/main.mjs", import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write("hoist: no build in dist/cli (run `npm run build`); running the TypeScript sources, which starts slower\n");
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/main.ts");
}
