import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { releaseOf, writeCustomCatalog } from "./helpers/custom-catalog.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("the coordinator's catalog is the one that counts", () => {
  it("agents with no catalog of their own are upgraded through every hop with the releases and migrations the coordinator sends, every field of them", { timeout: 180_000 }, async () => {
    const root = await makeTempDir();
    // The coordinator's catalog marks 1.1.0's migration permanent: each agent must learn it from the hop it is sent.
    const catalog = await writeCustomCatalog(root, (releases) => {
      for (const migration of releaseOf(releases, "1.1.0").migrations) if (migration.name === "store-schema-2") migration.permanent = true;
    });
    cluster = await startCluster(root, { nodes: 2, version: "1.0.0", agentsWithoutCatalog: true });
    for (const node of cluster.nodes) expect(await readFile(node.configPath, "utf8")).not.toContain("catalog");
    await cluster.nodes[0]!.kv.put("kept", "yes");

    const result = await cluster.hoist(
      [
        "rollout",
        "start",
        "--catalog",
        catalog,
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
    for (const node of cluster.nodes) {
      const finalize = JSON.parse(await readFile(join(node.config.stateDir, "services", "kv", "finalize.json"), "utf8")) as { pending: { release: string; before: string }[] };
      expect(finalize.pending, `${node.node}: the permanent migration awaits hoist finalize`).toMatchObject([{ release: "1.1.0", before: "1.0.0" }]);
    }
  });
});
