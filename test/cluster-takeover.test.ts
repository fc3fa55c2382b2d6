import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { startCluster, type ClusterNode, type TestCluster } from "./helpers/cluster.ts";
import type { RolloutState } from "../coordinator/rollout/state.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Waits until the rollout has `upgrade` in flight on `node` in hop 1 and that node's agent is inside the operation (its journal exists). */
async function waitUntilMidUpgrade(c: TestCluster, node: ClusterNode): Promise<RolloutState> {
  const state = await c.waitRollout((rollout) => rollout.hops[0]?.nodes[node.node]?.inFlight?.step === "upgrade", { what: `${node.node} upgrading` });
  await waitFor(() => access(join(node.config.stateDir, "services", "kv", "journal.json")).then(() => true), { timeoutMs: 30_000, what: `${node.node}'s journal` });
  return state;
}

/** Proves that every node ran each hop once: one start per version, one recorded outcome per upgrade key, one shared-db migration. */
async function expectEachHopRanOnce(c: TestCluster): Promise<void> {
  for (const node of c.nodes) {
    expect(await node.kv.version()).toMatchObject({ version: "1.1.1", schema: 2 });
    expect(await node.starts("1.0.0")).toBe(1);
    expect(await node.starts("1.1.0")).toBe(1);
    expect(await node.starts("1.1.1")).toBe(1);
    // one outcome per key: the upgrade of hop 1 and of hop 2, never a second attempt
    expect(await node.recordedKeys()).toHaveLength(2);
    expect(await node.kv.get("owner")).toBe(node.node);
  }
  expect((await readFile(c.sharedDb, "utf8")).trim().split("\n")).toHaveLength(1);
  const rollout = (await c.rollout())!;
  expect(rollout.phase).toBe("succeeded");
  for (const hop of rollout.hops) for (const state of Object.values(hop.nodes)) expect(state).toMatchObject({ status: "done", attempt: 1, failures: 0 });
}

describe("coordinator takeover (3 agent processes, real nats-server)", () => {
  it("SIGKILL of `hoist rollout start` while a node upgrades: `hoist rollout drive` waits out the lease and finishes the rollout, no node upgraded twice", { timeout: 180_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.0.0" });
    for (const node of cluster.nodes) await node.kv.put("owner", node.node);
    const first = cluster.spawnHoist(cluster.rolloutArgs("1.1.1"));
    const n2 = cluster.nodes[1]!;
    const before = await waitUntilMidUpgrade(cluster, n2);
    const key = before.hops[0]!.nodes.n2!.inFlight!.key;
    const killed = await first.kill("SIGKILL");
    expect(killed.signal).toBe("SIGKILL");

    const drive = await cluster.hoist(["rollout", "drive", "--cluster", cluster.cluster, "--agent-insecure"], { timeoutMs: 150_000 });
    expect(drive.code, `${drive.stdout}\n${drive.stderr}`).toBe(0);
    expect(drive.stdout).toMatch(/waiting for the lease of coordinator \S+ to expire/);
    expect(drive.stdout).toMatch(/phase succeeded/);
    await expectEachHopRanOnce(cluster);
    // the takeover re-sent n2's upgrade under the key the dead coordinator recorded
    const final = (await cluster.rollout())!;
    expect(final.hops[0]!.nodes.n2!.status).toBe("done");
    expect(key).toMatch(/\/n2\/0\/upgrade\/1$/);
  });

  it("SIGKILL of a `hoist coordinator` daemon while the first node (the one running the cluster-once migration) upgrades: a new daemon takes over and finishes, no node upgraded twice", { timeout: 180_000 }, async () => {
    const root = await makeTempDir();
    cluster = await startCluster(root, { nodes: 3, version: "1.0.0" });
    for (const node of cluster.nodes) await node.kv.put("owner", node.node);
    const args = ["coordinator", "--agent-insecure", "--log-level", "warn"];
    const daemon = cluster.spawnHoist(args);
    const detached = await cluster.hoist(cluster.rolloutArgs("1.1.1", ["--detach", "--json"]));
    expect(detached.code, detached.stderr).toBe(0);
    const { id } = JSON.parse(detached.stdout.trim().split("\n").at(-1)!);

    await waitUntilMidUpgrade(cluster, cluster.nodes[0]!);
    await daemon.kill("SIGKILL");
    const successor = cluster.spawnHoist(args);
    const final = await cluster.waitRollout((state) => state.phase === "succeeded" || state.phase === "failed", { timeoutMs: 150_000, what: "the successor to finish" });
    expect(final.id).toBe(id);
    expect(final.phase, successor.output()).toBe("succeeded");
    await expectEachHopRanOnce(cluster);
    // the successor holds the lease now, one epoch after the first daemon
    const lease = await cluster.buckets.rollouts.get(`${cluster.cluster}.lease`);
    expect(JSON.parse(new TextDecoder().decode(lease!.value))).toMatchObject({ epoch: 2 });
    expect(successor.child.exitCode).toBeNull();
  });
});
