import { execFile } from "node:child_process";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { ensureSampleReleases, sampleCatalogPath } from "./helpers/sample-service.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");

describe("the release tarball (npm pack), as docs/install.md installs it", () => {
  it("holds the command and what it loads, the docs and the unit files, and no tests; unpacked, `hoist upgrade` installs a release from it", { timeout: 120_000 }, async () => {
    const dir = await makeTempDir();
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((file) => file.path);
    for (const needed of [
      "bin/hoist.mjs",
      "cli/main.ts",
      "agent/main.ts",
      "agent/snapshot/worker-bootstrap.mjs",
      "coordinator/main.ts",
      "shared/proto/generated/descriptor-set.ts",
      "proto/hoist/agent/v1/agent.proto",
      "examples/systemd/hoist-agent.service",
      "examples/systemd/hoist-coordinator.service",
      "docs/install.md",
      "package.json",
      "README.md",
    ]) {
      expect(files, needed).toContain(needed);
    }
    expect(files.filter((path) => /^(test|bench|scripts|\.ci)\//.test(path))).toEqual([]);

    // Unpacked, with this checkout's dependencies (npm install would fetch the same from the registry).
    await run("tar", ["-xzf", join(dir, packed!.filename), "-C", dir]);
    const installed = join(dir, "package");
    await symlink(join(ROOT, "node_modules"), join(installed, "node_modules"));
    const hoist = join(installed, "bin", "hoist.mjs");
    const help = await run(process.execPath, [hoist, "--help"]);
    expect(help.stdout).toContain("Usage: hoist");

    await ensureSampleReleases();
    const node = await makeSampleNode(await makeTempDir(), { node: "from-tarball" });
    const upgrade = await run(process.execPath, [hoist, "upgrade", "-c", node.configPath, "--to", "1.0.0", "--catalog", sampleCatalogPath()], { timeout: 90_000 });
    expect(upgrade.stdout).toContain("committed");
    expect((await node.kv.version()).version).toBe("1.0.0");
  });
});
