import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import type { RolloutEffects } from "../coordinator/rollout/effects.ts";
import { ClusterLease } from "../coordinator/rollout/lease.ts";
import { RolloutRunner } from "../coordinator/rollout/runner.ts";
import type { RolloutState } from "../coordinator/rollout/state.ts";
import type { StepCommand } from "../coordinator/rollout/step-command.ts";
import { RolloutStore } from "../coordinator/rollout/store.ts";
import { openBuckets, type HoistBuckets } from "../shared/bus/index.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { nodes, rollout } from "./helpers/rollout-fixtures.ts";

/**
 * The runner on a real nats-server (store and lease in real KV) with a batch bigger than one commit
 * carries (200 commands): a node whose step ended during the burst gets its next step before the
 * rest of the burst has gone out. The effects answer every step at once, so the order in which steps
 * were started is what the runner decided, not how fast anything ran.
 */

let server: NatsServerHandle;
let nc: NatsConnection;
let buckets: HoistBuckets;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  buckets = await openBuckets(nc, { replicas: 1 });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** Effects that answer each step ok at once and note the order steps were started in. */
function answeringEffects(started: StepCommand[]): RolloutEffects {
  return {
    runStep: async (command) => {
      started.push(command);
      return { outcome: "ok" };
    },
    preflight: async () => ({ ok: true, messages: [] }),
    publish: () => undefined,
  };
}

describe("rollout runner, a batch above one commit", () => {
  it("a node whose drain ended gets its upgrade before the last drains of a 450-node batch are sent, and every node finishes once", async () => {
    const cluster = "burst";
    const created: RolloutState = { ...rollout(nodes(450), "1.1.0", { batch: "100%", minHealthyMs: 0 }), id: "b1", cluster, createdAt: Date.now(), progressAt: Date.now() };
    const store = new RolloutStore(buckets.rollouts);
    await store.create(created);
    const started: StepCommand[] = [];
    const runner = new RolloutRunner({ store, lease: new ClusterLease(buckets.rollouts, cluster, "test-coordinator"), effects: answeringEffects(started), logger: silentLogger() });

    const final = await runner.drive(cluster, "b1");

    expect(final.phase).toBe("succeeded");
    const index = (step: string) => started.map((command, at) => (command.step === step ? at : -1)).filter((at) => at >= 0);
    const drains = index("drain");
    const upgrades = index("upgrade");
    expect(drains).toHaveLength(450);
    expect(upgrades).toHaveLength(450);
    // Before: every slice of drains was sent (200 + 200 + 50) before the first result was folded.
    expect(upgrades[0]!).toBeLessThan(drains.at(-1)!);
    // No step ran twice on a node.
    expect(new Set(started.map((command) => command.key)).size).toBe(started.length);
  });
});
