import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeJson, inventoryKey, openBuckets } from "../shared/bus/index.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { sampleInventory } from "./helpers/fake-node-agent.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

describe("`hoist inventory` names nodes the same way with and without --cluster", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    try {
      const { inventory } = await openBuckets(nc);
      for (const [cluster, node] of [
        ["prod", "n1"],
        ["stage", "n1"],
      ] as const) {
        await inventory.put(inventoryKey(cluster, node), encodeJson({ ...sampleInventory(), node, cluster, lastSeen: new Date().toISOString() }));
      }
    } finally {
      await nc.close();
    }
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("node n1 of prod is n1 in both (the cluster has its own column)", async () => {
    const all = await runHoist(["inventory", "--json", "--nats", nats.url]);
    expect(all.code, all.stderr).toBe(0);
    const rows = JSON.parse(all.stdout) as { cluster: string; node: string }[];
    expect([...new Set(rows.map((row) => `${row.cluster}/${row.node}`))].sort()).toEqual(["prod/n1", "stage/n1"]);
    const prod = await runHoist(["inventory", "--json", "--cluster", "prod", "--nats", nats.url]);
    expect([...new Set((JSON.parse(prod.stdout) as { node: string }[]).map((row) => row.node))]).toEqual(["n1"]);
    const table = await runHoist(["inventory", "--nats", nats.url]);
    expect(table.stdout).not.toContain("prod.n1");
  });
});
