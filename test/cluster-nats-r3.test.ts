import { afterEach, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { startNatsCluster, type NatsClusterHandle } from "./helpers/nats-cluster.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { RolloutStore } from "../coordinator/rollout/store.ts";
import { EVENTS_STREAM, KV_DESIRED, KV_INVENTORY, KV_MIGRATIONS, KV_ROLLOUTS, openBuckets } from "../shared/bus/index.ts";

let cluster: TestCluster | undefined;
let natsCluster: NatsClusterHandle | undefined;
let watcher: NatsConnection | undefined;
afterEach(async () => {
  await watcher?.close().catch(() => undefined);
  watcher = undefined;
  if (cluster) await cluster.stop();
  else await natsCluster?.stop();
  cluster = undefined;
  natsCluster = undefined;
});

describe("a 3-server NATS cluster with R3 assets (real nats-servers, 2 agent processes)", () => {
  it("every Hoist stream and bucket is R3 by default; killing the server that leads KV_hoist_rollouts mid-rollout does not stop it: it completes without an operator, every node upgraded once", { timeout: 150_000 }, async () => {
    natsCluster = await startNatsCluster(3);
    cluster = await startCluster(await makeTempDir(), { nodes: 2, version: "1.1.0", nats: natsCluster });

    watcher = await connect({ servers: natsCluster.urls, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const jsm = await watcher.jetstreamManager();
    const streams = [EVENTS_STREAM, ...[KV_INVENTORY, KV_ROLLOUTS, KV_DESIRED, KV_MIGRATIONS].map((bucket) => `KV_${bucket}`)];
    await waitFor(async () => (await jsm.streams.info(EVENTS_STREAM)).config.num_replicas === 3, { what: "HOIST_EVENTS made by the agents" });
    for (const stream of streams) {
      const info = await jsm.streams.info(stream);
      expect(info.config.num_replicas, stream).toBe(3);
      expect(info.cluster?.replicas ?? [], stream).toHaveLength(2);
    }

    const args = cluster.rolloutArgs("1.1.1").map((arg) => (arg === "300" ? "3000" : arg));
    const run = cluster.spawnHoist(args);
    const store = new RolloutStore((await openBuckets(watcher)).rollouts);
    await waitFor(
      async () => {
        const state = (await store.list(cluster!.cluster)).at(-1)?.value;
        return state?.phase === "running" && state.hops[0]!.nodes.n1!.inFlight?.step === "verify";
      },
      { timeoutMs: 60_000, intervalMs: 50, what: "n1's health gate in flight" },
    );

    const leader = (await jsm.streams.info(`KV_${KV_ROLLOUTS}`)).cluster?.leader;
    expect(leader).toBeDefined();
    await natsCluster.killServer(leader!);
    // another server leads the bucket: the rollout state stayed writable without anyone stepping in
    await waitFor(
      async () => {
        const now = (await jsm.streams.info(`KV_${KV_ROLLOUTS}`)).cluster?.leader;
        return now !== undefined && now !== leader;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "a new leader of KV_hoist_rollouts" },
    );

    const result = await run.exited;
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/phase succeeded/);
    expect(`${result.stdout}\n${result.stderr}`).not.toMatch(/stream is offline|\[INTERNAL\]|LEASE_LOST/);
    // The test's own connection may still be finding the new leader: ask until it answers.
    const rollout = (await waitFor(async () => (await store.list(cluster!.cluster)).at(-1), { timeoutMs: 30_000, what: "the rollout record (the test's own read)" })).value;
    expect(rollout.phase).toBe("succeeded");
    for (const state of Object.values(rollout.hops[0]!.nodes)) expect(state).toMatchObject({ status: "done", attempt: 1, failures: 0 });
    for (const node of cluster.nodes) {
      expect((await node.kv.version()).version).toBe("1.1.1");
      expect(await node.starts("1.1.1")).toBe(1);
      expect(await node.recordedKeys()).toHaveLength(1);
    }
    console.log(`nats-r3: killed ${leader}, leader of KV_${KV_ROLLOUTS}, during n1's verify`);
  });
});
