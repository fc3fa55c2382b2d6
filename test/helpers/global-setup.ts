import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * Builds the `hoist` command (dist/cli, as `npm ci` does: tests spawn bin/hoist.mjs, which runs the
 * build, so it must match the sources) and the sample service's release tarballs once per test run
 * (skipped when already built).
 */
export default function setup(): void {
  const root = join(import.meta.dirname, "..", "..");
  execFileSync(process.execPath, [join(root, "scripts", "build-cli.mjs")], { cwd: root, stdio: "inherit" });
  const script = join(root, "scripts", "make-sample-releases.ts");
  if (!existsSync(script)) return;
  execFileSync(process.execPath, ["--import", "tsx", script], { cwd: root, stdio: "inherit" });
}
