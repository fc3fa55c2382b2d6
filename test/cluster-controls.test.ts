import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { readInventories } from "../shared/inventory/index.ts";
import type { NodeHopState, RolloutState } from "../coordinator/rollout/state.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** A node's unit of work has begun (a step with downtime in flight or done) and is not finished. */
function midUnit(state: NodeHopState): boolean {
  if (state.inFlight) return state.inFlight.step !== "stage";
  return state.todo.length > 0 && state.status !== "pending" && state.status !== "staged";
}

function someNodeMidUpgrade(rollout: RolloutState): boolean {
  return rollout.phase === "running" && rollout.hops.some((hop) => Object.values(hop.nodes).some((state) => state.inFlight?.step === "upgrade"));
}

/** Every node is between units: nothing in flight, nothing half done. */
function atRest(rollout: RolloutState): boolean {
  return rollout.hops.every((hop) => Object.values(hop.nodes).every((state) => !state.inFlight && !midUnit(state)));
}

async function expectEveryNodeInService(c: TestCluster): Promise<void> {
  for (const node of c.nodes) {
    expect((await node.kv.healthz()).status).toBe(200);
    expect((await node.kv.cluster()).member).toBe(true);
  }
  await waitFor(
    async () => {
      const inventories = await readInventories(c.buckets.inventory, c.cluster);
      return c.nodes.every((node) => {
        const kv = inventories[node.node]?.inventory.services.find((service) => service.name === "kv");
        return kv?.activity === "idle" && kv.health === "SERVING";
      });
    },
    { timeoutMs: 15_000, what: "every agent to report kv idle and SERVING" },
  );
}

describe("operator controls from other processes (3 agent processes, real nats-server)", () => {
  it("pause from another process lets the node in progress finish, then starts nothing new until resume; the rollout then finishes", { timeout: 120_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.0.0" });
    const start = cluster.spawnHoist(cluster.rolloutArgs("1.1.0"));
    await cluster.waitRollout(someNodeMidUpgrade, { what: "a node in the middle of its upgrade" });

    const pause = await cluster.hoist(["rollout", "pause", "--cluster", cluster.cluster]);
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.stdout).toMatch(/pause recorded for rollout \S+/);

    const paused = await cluster.waitRollout((state) => state.phase === "paused", { what: "phase paused" });
    expect(atRest(paused)).toBe(true);
    const upgraded = Object.entries(paused.hops[0]!.nodes)
      .filter(([, state]) => state.status === "done")
      .map(([node]) => node);
    expect(upgraded.length).toBeGreaterThanOrEqual(1);
    expect(upgraded.length).toBeLessThan(3);

    // While paused nothing moves: same node states a while later, the waiting nodes still on 1.0.0 and serving.
    await sleep(2500);
    const still = (await cluster.rollout())!;
    expect(still.phase).toBe("paused");
    expect(still.hops).toEqual(paused.hops);
    for (const node of cluster.nodes) {
      expect((await node.kv.version()).version).toBe(upgraded.includes(node.node) ? "1.1.0" : "1.0.0");
    }
    await expectEveryNodeInService(cluster);
    expect(start.child.exitCode).toBeNull();

    const resume = await cluster.hoist(["rollout", "resume", "--cluster", cluster.cluster]);
    expect(resume.code, resume.stderr).toBe(0);
    const result = await start.exited;
    expect(result.code, start.output()).toBe(0);
    for (const node of cluster.nodes) expect((await node.kv.version()).version).toBe("1.1.0");

    const final = (await cluster.rollout())!;
    expect(final.phase).toBe("succeeded");
    const phases = final.history.filter((entry) => entry.event === "phase").map((entry) => entry.to);
    expect(phases).toEqual(["preflight", "running", "paused", "running", "succeeded"]);
    expect(final.history.filter((entry) => entry.event === "pause" || entry.event === "resume").map((entry) => entry.event)).toEqual(["pause", "resume"]);
  });

  it("abort mid-rollout finishes the node in progress and ends aborted, with no node left drained or stopped", { timeout: 120_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.1.0" });
    const start = cluster.spawnHoist(cluster.rolloutArgs("1.1.1"));
    await cluster.waitRollout(someNodeMidUpgrade, { what: "a node in the middle of its upgrade" });

    const abort = await cluster.hoist(["rollout", "abort", "--cluster", cluster.cluster]);
    expect(abort.code, abort.stderr).toBe(0);
    const result = await start.exited;
    expect(result.code, start.output()).not.toBe(0);
    expect(result.stdout, result.stderr).toMatch(/phase aborted/);

    const final = (await cluster.rollout())!;
    expect(final.phase).toBe("aborted");
    expect(atRest(final)).toBe(true);
    const states = final.hops[0]!.nodes;
    const upgraded = Object.keys(states).filter((node) => states[node]!.status === "done");
    expect(upgraded.length).toBeGreaterThanOrEqual(1);
    expect(upgraded.length).toBeLessThan(3);
    for (const node of cluster.nodes) {
      expect(["done", "pending", "staged"]).toContain(states[node.node]!.status);
      expect((await node.kv.version()).version).toBe(upgraded.includes(node.node) ? "1.1.1" : "1.1.0");
    }
    await expectEveryNodeInService(cluster);

    // an aborted rollout takes no more controls; a new rollout finishes the job, skipping the nodes already upgraded
    const resume = await cluster.hoist(["rollout", "resume", "--cluster", cluster.cluster]);
    expect(resume.code).not.toBe(0);
    expect(resume.stderr).toMatch(/already ended \(aborted\)/);
    const again = await cluster.hoist(cluster.rolloutArgs("1.1.1"), { timeoutMs: 120_000 });
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    const second = (await cluster.rollout())!;
    expect(second.id).not.toBe(final.id);
    for (const node of cluster.nodes) {
      expect(second.hops[0]!.nodes[node.node]!.status).toBe(upgraded.includes(node.node) ? "skipped" : "done");
      expect((await node.kv.version()).version).toBe("1.1.1");
      expect(await node.starts("1.1.1")).toBe(1);
    }
  });
});
