import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { freePort } from "./helpers/sample-service.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

/** A kv node that validates every new release on a copy of its data, on another port and run dir. */
async function validatingNode(version: string): Promise<{ node: SampleNode; scratchRun: string }> {
  const root = await makeTempDir();
  const scratchRun = join(root, "validate-run");
  await mkdir(scratchRun, { recursive: true });
  const port = await freePort();
  const node = await makeSampleNode(root, {
    minHealthyMs: 200,
    editService: (service) => {
      service.validate = { data: "clone", env: { KV_PORT: String(port), KV_RUN_DIR: scratchRun }, probes: [{ type: "http", url: `http://127.0.0.1:${port}/healthz` }], minHealthyMs: 1500, healthyDeadlineMs: 10_000 };
    },
  });
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", version]);
  expect(install.code, install.stderr).toBe(0);
  await node.kv.put("greeting", "hello");
  return { node, scratchRun };
}

describe("validate before touching production data (Alfresco step 2) with the sample service's real tarballs", () => {
  it("starts 1.1.0 on a migrated copy of the data on another port, checks it, stops it, then upgrades production", { timeout: 60_000 }, async () => {
    const { node, scratchRun } = await validatingNode("1.0.0");
    const pid = (await node.kv.version()).pid;
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0"]);
    expect(upgrade.code, `${upgrade.stdout}\n${upgrade.stderr}`).toBe(0);
    const output = upgrade.stderr + upgrade.stdout;
    expect(output).toContain("running store-schema-2 on the copy");
    expect(output.indexOf("served on the scratch data")).toBeGreaterThan(-1);
    expect(output.indexOf("served on the scratch data")).toBeLessThan(output.indexOf("running stop hook"));
    // the scratch instance was 1.1.0 on the migrated copy, and it was stopped again
    const scratchLog = await readFile(join(scratchRun, "kv.log"), "utf8");
    expect(scratchLog).toContain("starting kv 1.1.0");
    await expect(readFile(join(scratchRun, "kv.pid"), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    expect(pid).not.toBe((await node.kv.version()).pid);
    expect(await node.kv.version()).toMatchObject({ version: "1.1.0", schema: 2 });
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
  });

  it("a release that crashes after start (1.2.0) fails validation: the upgrade is aborted and production never stopped nor changed", { timeout: 60_000 }, async () => {
    const { node } = await validatingNode("1.1.1");
    const pid = (await node.kv.version()).pid;
    const data = await hashTree(node.dataDir);
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.2.0", "--json"]);
    expect(upgrade.code).toBe(1);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({ result: "aborted", active: "1.1.1", error: { code: "HEALTH_CHECK_FAILED" } });
    expect(await node.kv.version()).toMatchObject({ version: "1.1.1", pid });
    expect(await hashTree(node.dataDir)).toEqual(data);
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
  });
});
