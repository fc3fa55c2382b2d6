import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { startFleet, type Fleet } from "../scripts/fleet-sim/fleet.ts";
import { countRolloutWrites } from "../scripts/fleet-sim/rollout-writes.ts";
import { readInventories } from "../shared/inventory/index.ts";
import { EVENTS_STREAM, agentEventsSubject } from "../shared/bus/index.ts";

let cluster: TestCluster | undefined;
let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  await cluster?.stop();
  fleet = undefined;
  cluster = undefined;
});

describe("fleet simulator speaks the real wire (20 simulated agents + 1 real agent process, real nats-server)", () => {
  it("a real `hoist rollout start` upgrades the mixed fleet 1.0.0 -> 1.1.0 in batches of 7: every node done once, inventories and events as a real agent's", { timeout: 90_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 1, version: "1.0.0" });
    const { cluster: id, nats } = cluster;
    fleet = await startFleet({
      servers: [nats.url],
      cluster: id,
      nodes: 20,
      nodePrefix: "s",
      version: "1.0.0",
      timings: { stage: "uniform:10-40", drain: "fixed:5", upgrade: "uniform:50-150", rejoin: "fixed:5" },
      seed: 7,
    });
    const simNodes = fleet.agents.map((sim) => sim.node);
    await waitFor(async () => Object.keys(await readInventories(cluster!.buckets.inventory, id)).length === 21, { timeoutMs: 15_000, what: "21 inventories in KV" });

    // Every write to the rollout bucket, stored or refused (KV puts are publishes on $KV.hoist_rollouts.KEY):
    // the coordinator is the rollout's single writer, so none of its writes may be refused by compare-and-set.
    const rolloutWrites = await countRolloutWrites(cluster.nc);
    const result = await cluster.hoist(cluster.rolloutArgs("1.1.0", ["--batch", "7"]), { timeoutMs: 80_000 });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const { writes, refused } = await rolloutWrites.stop();
    expect(writes).toBeGreaterThan(0);
    expect(refused, "rollout-bucket writes refused by compare-and-set").toBe(0);
    expect(result.stdout).toMatch(/phase succeeded/);

    const rollout = (await cluster.rollout())!;
    expect(rollout.phase).toBe("succeeded");
    expect(rollout.plan.hops[0]!.batches.map((batch) => batch.length)).toEqual([7, 7, 7]);
    const states = rollout.hops[0]!.nodes;
    expect(Object.keys(states).sort()).toEqual(["n1", ...simNodes].sort());
    for (const state of Object.values(states)) expect(state).toMatchObject({ status: "done", attempt: 1, failures: 0 });

    // the real agent really upgraded: its kv started 1.1.0 once
    expect(await cluster.nodes[0]!.starts("1.1.0")).toBe(1);
    // every simulated agent ran each step the coordinator sends exactly once, and committed
    for (const node of simNodes) {
      const verbs = fleet.records.filter((record) => record.node === node).map((record) => `${record.verb}:${record.result}`);
      expect(verbs, node).toEqual(["stage:ok", "drain:ok", "upgrade:committed", "rejoin:ok"]);
    }

    // inventories in KV (heartbeat after the last step) read by the coordinator's own reader, schema-checked
    const inventories = await waitFor(
      async () => {
        const read = await readInventories(cluster!.buckets.inventory, id);
        const versions = Object.values(read).map((observed) => observed.inventory.services.find((service) => service.name === "kv")?.activeVersion);
        return versions.length === 21 && versions.every((version) => version === "1.1.0") ? read : undefined;
      },
      { timeoutMs: 10_000, what: "every inventory on 1.1.0" },
    );
    expect(inventories[simNodes[0]!]!.inventory.services[0]).toMatchObject({ health: "SERVING", activity: "idle", lastUpgrade: { result: "committed", from: "1.0.0", to: "1.1.0" } });

    // progress events of simulated agents landed in HOIST_EVENTS on their own subject, like the real agent's
    const info = await (await cluster.nc.jetstreamManager()).streams.info(EVENTS_STREAM, { subjects_filter: ">" });
    const subjects = Object.keys(info.state.subjects ?? {});
    expect(subjects).toContain(agentEventsSubject(id, "n1"));
    for (const node of simNodes) expect(subjects).toContain(agentEventsSubject(id, node));
  });
});
