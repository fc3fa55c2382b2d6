import { afterEach, describe, expect, it } from "vitest";
import { makeFileTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { gatedMigrationCatalog } from "./helpers/gated-migration.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { inBackground } from "./helpers/real-agent.ts";
import { sendAgentCommand } from "../coordinator/bus/agent-commands.ts";
import { decodeJson, kvToken } from "../shared/bus/index.ts";
import type { UpgradeOutcome } from "../shared/types/index.ts";

/**
 * One real `hoist agent run` process whose nats-server is SIGKILLed under it: the agent must ride the
 * outage out (a cluster-once migration is not failed by it, its record still ends `done`) and must
 * still stop on SIGTERM while NATS is gone.
 */
describe("an agent while its nats-server is down", () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it("SIGTERM while nats-server is killed: the agent process exits", async () => {
    cluster = await startCluster(await makeFileTempDir(), { nodes: 1, version: "1.0.0" });
    const agent = cluster.nodes[0]!.agent!;
    await cluster.nats.kill();
    agent.kill("SIGTERM");
    await waitFor(() => agent.exitCode !== null || agent.signalCode !== null, { timeoutMs: 5000, what: "the agent to exit after SIGTERM" });
    expect(agent.signalCode === null ? agent.exitCode : agent.signalCode).toBe(0);
  });

  /** Upgrades n1 to 1.1.0 while nats-server is killed at the moment `gate` names, restarted once the agent said it waits for NATS. */
  async function upgradeThroughOutage(which: "store-schema-2" | "shared-db-1.1.0") {
    const root = await makeFileTempDir();
    const gate = await gatedMigrationCatalog(root, which);
    cluster = await startCluster(root, { nodes: 1, version: "1.0.0", catalog: gate.catalog });
    const running = cluster;
    const node = running.nodes[0]!;
    const target = { cluster: running.cluster, node: "n1" };
    const command = { service: "kv", to: "1.1.0", key: `outage/${which}` };
    const first = inBackground(sendAgentCommand<UpgradeOutcome>(running.nc, target, "upgrade", command, 120_000));
    await waitFor(() => gate.started(), { timeoutMs: 30_000, what: `${which} to begin` });
    const logged = node.log.join("").length;
    await running.nats.kill();
    await gate.open();
    await waitFor(() => node.log.join("").slice(logged).includes("waiting for NATS"), { timeoutMs: 20_000, what: "the agent to say it waits for NATS" });
    await running.nats.restart();
    // The first request may be lost with the outage: ask again under the same key, as the coordinator does.
    const outcome = await waitFor(() => sendAgentCommand<UpgradeOutcome>(running.nc, target, "upgrade", command, 5000), { timeoutMs: 60_000, what: "the upgrade's outcome" });
    await first.catch(() => undefined);
    return { outcome, node, running };
  }

  async function migrationRecord(running: TestCluster) {
    const entry = await running.buckets.migrations.get([running.cluster, "kv", kvToken("1.1.0"), kvToken("shared-db-1.1.0")].join("."));
    return entry ? decodeJson<{ status: string; node: string }>(entry.value) : undefined;
  }

  // 120 s: an outage plus JetStream's recovery can take long on a loaded 2-core machine (no timing is asserted).
  it("nats-server killed just before the cluster-once gate reads its lock: the upgrade commits, the lock record ends done", { timeout: 120_000 }, async () => {
    const { outcome, node, running } = await upgradeThroughOutage("store-schema-2");
    expect(outcome.result, JSON.stringify(outcome.error)).toBe("committed");
    expect((await node.kv.version()).version).toBe("1.1.0");
    expect(await migrationRecord(running)).toMatchObject({ status: "done", node: "n1" });
  });

  it("nats-server killed while the cluster-once migration runs: the done record is written once NATS is back, the upgrade commits", { timeout: 120_000 }, async () => {
    const { outcome, node, running } = await upgradeThroughOutage("shared-db-1.1.0");
    expect(outcome.result, JSON.stringify(outcome.error)).toBe("committed");
    expect((await node.kv.version()).version).toBe("1.1.0");
    expect(await migrationRecord(running)).toMatchObject({ status: "done", node: "n1" });
  });
});
