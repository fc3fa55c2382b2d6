import { readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeFileTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { gatedMigrationCatalog } from "./helpers/gated-migration.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { inBackground } from "./helpers/real-agent.ts";
import { sendAgentCommand } from "../coordinator/bus/agent-commands.ts";
import { isTerminal } from "../coordinator/rollout/state.ts";
import type { UpgradeOutcome } from "../shared/types/index.ts";

/** The cluster-once lock of kv 1.1.0's shared-db migration with real agent processes on a real nats-server. */
describe("the cluster-once migration lock", () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it("agent SIGKILLed inside a slow cluster-once migration and restarted: the rollout finishes within one step deadline, every node serving 1.1.0, the migration ran once", { timeout: 120_000 }, async () => {
    const root = await makeFileTempDir();
    const gate = await gatedMigrationCatalog(root, "shared-db-1.1.0", { onlyFirstRun: true });
    cluster = await startCluster(root, { nodes: 2, version: "1.0.0", catalog: gate.catalog });
    const [n1, n2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const rollout = cluster.spawnHoist(cluster.rolloutArgs("1.1.0", ["--max-failures", "1", "--progress-deadline-ms", "30000"]));
    await waitFor(() => gate.started(), { timeoutMs: 60_000, what: `the cluster-once migration to begin\n${rollout.output()}` });

    await n1.killAgent("SIGKILL");
    await n1.startAgent();

    const state = await cluster.waitRollout((candidate) => isTerminal(candidate.phase), { timeoutMs: 30_000, what: "the rollout to end within one step deadline" });
    expect(state.phase, rollout.output()).toBe("succeeded");
    for (const node of [n1, n2]) {
      expect((await node.kv.version()).version).toBe("1.1.0");
      expect((await node.kv.healthz()).status).toBe(200);
    }
    const migrated = (await readFile(cluster.sharedDb, "utf8")).split("\n").filter((line) => line.startsWith("1.1.0 migrated by"));
    expect(migrated).toHaveLength(1);
  });

  it("a node waiting on a lock another live node holds: its step deadline ends the wait and rolls it back; a rollback sent while it waits is not refused BUSY", { timeout: 120_000 }, async () => {
    const root = await makeFileTempDir();
    const gate = await gatedMigrationCatalog(root, "shared-db-1.1.0");
    cluster = await startCluster(root, { nodes: 2, version: "1.0.0", catalog: gate.catalog });
    const running = cluster;
    const [n1, n2] = running.nodes as [(typeof running.nodes)[0], (typeof running.nodes)[0]];
    const at = (node: string) => ({ cluster: running.cluster, node });

    // n2 holds the lock: its migration waits for the gate, its agent alive.
    const holder = inBackground(sendAgentCommand<UpgradeOutcome>(running.nc, at("n2"), "upgrade", { service: "kv", to: "1.1.0", key: "lock/n2" }, 110_000));
    await waitFor(() => gate.started(), { timeoutMs: 30_000, what: "n2's cluster-once migration to begin" });

    // A deadline sent with the command bounds the operation on the agent.
    const bounded = await sendAgentCommand<UpgradeOutcome>(running.nc, at("n1"), "upgrade", { service: "kv", to: "1.1.0", key: "lock/n1/deadline", deadlineMs: 4000 }, 30_000);
    expect(bounded.result).toBe("rolled-back");
    expect(bounded.error?.code).toBe("TIMEOUT");
    expect((await n1.kv.version()).version).toBe("1.0.0");
    expect((await n1.kv.healthz()).status).toBe(200);

    // Without a deadline the upgrade waits on n2's lock; the coordinator's recovery rollback ends it.
    const waiting = inBackground(sendAgentCommand<UpgradeOutcome>(running.nc, at("n1"), "upgrade", { service: "kv", to: "1.1.0", key: "lock/n1/waits" }, 60_000));
    await waitFor(async () => (await readlink(join(n1.installRoot, "current"))).endsWith("1.1.0"), { timeoutMs: 30_000, what: "n1 to switch to 1.1.0 and wait on the lock" });
    const rollback = await sendAgentCommand<UpgradeOutcome>(running.nc, at("n1"), "rollback", { service: "kv", to: "1.0.0", key: "lock/n1/rollback" }, 30_000);
    expect(rollback.result).toBe("rolled-back");
    expect((await waiting).result).toBe("rolled-back");
    expect((await n1.kv.version()).version).toBe("1.0.0");
    expect((await n1.kv.healthz()).status).toBe(200);

    await gate.open();
    expect((await holder).result).toBe("committed");
    expect((await n2.kv.version()).version).toBe("1.1.0");
  });
});
