import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { sampleCatalogPath } from "./helpers/sample-service.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("the coordinator's catalog is the one that counts", () => {
  it("agents with no catalog of their own are upgraded through every hop with the releases and migrations the coordinator sends", { timeout: 180_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 2, version: "1.0.0", agentsWithoutCatalog: true });
    for (const node of cluster.nodes) expect(await readFile(node.configPath, "utf8")).not.toContain("catalog");
    await cluster.nodes[0]!.kv.put("kept", "yes");

    const result = await cluster.hoist(
      [
        "rollout",
        "start",
        "--catalog",
        sampleCatalogPath(),
        "--cluster",
        cluster.cluster,
        "--service",
        "kv",
        "--to",
        "1.1.1",
        "--agent-insecure",
        "--min-healthy-ms",
        "300",
        "--healthy-deadline-ms",
        "20000",
        "--progress-deadline-ms",
        "60000",
      ],
      { timeoutMs: 170_000 },
    );

    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    for (const node of cluster.nodes) expect(await node.kv.version()).toMatchObject({ version: "1.1.1", schema: 2 });
    expect(await cluster.nodes[0]!.kv.get("kept")).toBe("yes");
    expect((await readFile(cluster.sharedDb, "utf8")).trim().split("\n")).toHaveLength(1);
  });
});
