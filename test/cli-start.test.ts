import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import packageJson from "../package.json" with { type: "json" };
import { makeTempDir } from "./helpers/temp-dir.ts";
import { runHoist } from "./helpers/hoist-cli.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";

const RECORD_IMPORTS = join(import.meta.dirname, "fixtures", "cli", "record-imports.mjs");

/** Runs `hoist ARGS` and returns every module URL it resolved. */
async function modulesLoadedBy(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; modules: string[] }> {
  const file = join(await makeTempDir(), "imports.txt");
  const result = await runHoist(args, { nodeArgs: ["--import", RECORD_IMPORTS], env: { HOIST_TEST_IMPORTS_FILE: file } });
  const modules = (await readFile(file, "utf8").catch(() => "")).split("\n").filter(Boolean);
  return { ...result, modules };
}

/** The npm packages (outside the build) among the loaded modules. */
function packagesIn(modules: string[]): string[] {
  return [...new Set(modules.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []))];
}

describe("how the hoist command starts", () => {
  it("`hoist --help` runs the compiled build: no TypeScript source, no tsx and no package from node_modules is loaded (commander is in the build)", async () => {
    const { code, stdout, stderr, modules } = await modulesLoadedBy(["--help"]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain("rollout");
    expect(stderr).toBe("");
    expect(modules.some((url) => url.includes("/dist/cli/main.mjs"))).toBe(true);
    expect(modules.filter((url) => url.endsWith(".ts"))).toEqual([]);
    expect(packagesIn(modules)).toEqual([]);
  });

  it("`hoist status --json` reads the node without building the agent: no logger, tar, gRPC, NATS, snapshot worker or zlib is loaded", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const { code, stdout, stderr, modules } = await modulesLoadedBy(["status", "-c", node.configPath, "--json"]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout).services[0]).toMatchObject({ name: "kv", activeVersion: "1.0.0", health: "SERVING", activity: "idle" });
    expect(packagesIn(modules)).toEqual([]);
    expect(modules.filter((url) => ["node:zlib", "node:worker_threads", "node:dgram", "node:tls"].includes(url))).toEqual([]);
  });

  it("a command loads only its own code: `hoist inventory --help` loads neither nats nor gRPC", async () => {
    const { code, modules } = await modulesLoadedBy(["inventory", "--help"]);
    expect(code).toBe(0);
    expect(modules.filter((url) => /node_modules\/(nats|@grpc)\//.test(url))).toEqual([]);
  });

  it("`hoist --version` and `hoist -V` print the package's version", async () => {
    for (const flag of ["--version", "-V"]) {
      const result = await runHoist([flag]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe(packageJson.version);
    }
  });
});
