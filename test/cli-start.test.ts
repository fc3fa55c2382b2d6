import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import packageJson from "../package.json" with { type: "json" };
import { makeTempDir } from "./helpers/temp-dir.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

const RECORD_IMPORTS = join(import.meta.dirname, "fixtures", "cli", "record-imports.mjs");

/** Runs `hoist ARGS` and returns every module URL it resolved. */
async function modulesLoadedBy(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; modules: string[] }> {
  const file = join(await makeTempDir(), "imports.txt");
  const result = await runHoist(args, { nodeArgs: ["--import", RECORD_IMPORTS], env: { HOIST_TEST_IMPORTS_FILE: file } });
  const modules = (await readFile(file, "utf8").catch(() => "")).split("\n").filter(Boolean);
  return { ...result, modules };
}

describe("how the hoist command starts", () => {
  it("`hoist --help` runs the compiled build: no TypeScript source and no tsx is loaded, only commander of the dependencies", async () => {
    const { code, stdout, stderr, modules } = await modulesLoadedBy(["--help"]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain("rollout");
    expect(stderr).toBe("");
    expect(modules.some((url) => url.includes("/dist/cli/main.mjs"))).toBe(true);
    expect(modules.filter((url) => url.endsWith(".ts"))).toEqual([]);
    const packages = new Set(modules.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
    expect([...packages]).toEqual(["commander"]);
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
