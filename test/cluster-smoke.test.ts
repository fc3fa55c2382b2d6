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

describe("rolling cluster upgrade over NATS", () => {
  it("upgrades 3 nodes 1.0.0 -> 1.1.1 through every hop; the cluster-once migration runs exactly once", async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.0.0" });
    const result = await cluster.hoist(
      ["rollout", "start", "--catalog", sampleCatalogPath(), "--cluster", cluster.cluster, "--service", "kv", "--to", "1.1.1", "--agent-insecure", "--min-healthy-ms", "300", "--healthy-deadline-ms", "20000", "--progress-deadline-ms", "60000"],
      { timeoutMs: 180_000 },
    );
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    for (const node of cluster.nodes) expect((await node.kv.version()).version).toBe("1.1.1");
    const sharedDb = (await readFile(cluster.sharedDb, "utf8")).trim().split("\n");
    expect(sharedDb).toHaveLength(1);
  });
});
