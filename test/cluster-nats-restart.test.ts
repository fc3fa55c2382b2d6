import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { connect, type NatsConnection } from "nats";
import { openBuckets } from "../shared/bus/index.ts";
import { RolloutStore } from "../coordinator/rollout/store.ts";
import type { RolloutState } from "../coordinator/rollout/state.ts";

let cluster: TestCluster | undefined;
let watcher: NatsConnection | undefined;
afterEach(async () => {
  await watcher?.close();
  await cluster?.stop();
  cluster = undefined;
});

/** How long each outage lasts: the fault itself (nats-server down), not a wait for something to happen. */
const OUTAGE_MS = 5000;

/** The step node `node` has in flight in the rollout's only hop, if any. */
function inFlight(state: RolloutState, node: string): string | undefined {
  return state.hops[0]?.nodes[node]?.inFlight?.step;
}

/** Steps in the order a rolling hop runs them on one node, to tell "at X or later". */
const ORDER = ["stage", "drain", "upgrade", "rejoin", "verify"];

describe("nats-server SIGKILLed and restarted (same port, same store) during a rollout (2 agent processes)", () => {
  it("the coordinator waits for NATS through each outage (kills aimed at stage, upgrade, drain, verify), keeps its lease, and the rollout completes with no node upgraded twice", { timeout: 120_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 2, version: "1.1.0" });
    const [n1, n2] = cluster.nodes;
    await n1!.kv.put("kept", "n1");
    await n2!.kv.put("kept", "n2");

    // --min-healthy-ms 8000: the health gate lasts long enough to be caught by an outage even when the
    // watcher's own connection needs seconds after the previous restart (JetStream recovering its streams).
    const args = cluster.rolloutArgs("1.1.1").map((arg) => (arg === "300" ? "8000" : arg));
    const started = Date.now();
    const run = cluster.spawnHoist(args);

    // The test watches the rollout on a connection of its own that reconnects at once after each restart.
    watcher = await connect({ servers: cluster.nats.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const store = new RolloutStore((await openBuckets(watcher)).rollouts);
    const newest = async () => (await store.list(cluster!.cluster)).map((entry) => entry.value).at(-1);

    const kills: { at: string; hit: string }[] = [];
    for (const [node, step] of [
      ["n1", "stage"],
      ["n1", "upgrade"],
      ["n2", "drain"],
      ["n2", "verify"],
    ] as const) {
      // A node whose steps ran faster than the watcher saw them (drain and upgrade of the sample take
      // well under a second on a loaded machine) may have been killed at this step already: covered.
      if (kills.some((kill) => kill.hit === `${node} ${step}`)) continue;
      // The first state that shows this step (or a later one of the node) in flight: kill there.
      const state = await waitFor(
        async () => {
          const candidate = await newest();
          const current = candidate && inFlight(candidate, node);
          return candidate?.phase === "running" && current !== undefined && ORDER.indexOf(current) >= ORDER.indexOf(step) ? candidate : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 20, what: `${node} ${step} in flight` },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nkills so far: ${JSON.stringify(kills)}\nrollout start said:\n${run.output()}`);
      });
      await cluster.nats.kill();
      kills.push({ at: `${node} ${step}`, hit: `${node} ${inFlight(state, node)}` });
      await sleep(OUTAGE_MS);
      await cluster.nats.restart();
    }

    const result = await run.exited;
    // every kill landed while the step it was aimed at (or, for steps answered within milliseconds, the next one of that node) was in flight
    for (const kill of kills) expect(kill.hit.split(" ")[0]).toBe(kill.at.split(" ")[0]);
    expect(kills.map((kill) => kill.hit)).toContain("n2 verify");
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(0);
    expect(result.stdout).toMatch(/phase succeeded/);
    expect(result.stdout).toContain("waiting for NATS");
    expect(output).not.toContain("[INTERNAL]");
    expect(output).not.toContain("LEASE_LOST");

    // The test's own connection may still be finding JetStream again after the last restart: ask until it answers.
    const rollout = await waitFor(() => cluster!.rollout(), { timeoutMs: 30_000, what: "the rollout record (the test's own read)" });
    expect(rollout.phase).toBe("succeeded");
    // one attempt per node, no failure: nothing was retried as a new attempt, nothing rolled back
    for (const state of Object.values(rollout.hops[0]!.nodes)) expect(state).toMatchObject({ status: "done", attempt: 1, failures: 0 });
    for (const node of cluster.nodes) {
      expect(await node.kv.version()).toMatchObject({ version: "1.1.1" });
      expect(await node.kv.get("kept")).toBe(node.node);
      // upgraded once: 1.1.1 started once, the old release never restarted (no rollback)
      expect(await node.starts("1.1.1")).toBe(1);
      expect(await node.starts("1.1.0")).toBe(1);
      // one upgrade outcome recorded by the agent (files are named by a hash of the key): one key, however often it was asked
      expect(await node.recordedKeys()).toHaveLength(1);
    }
    const waits = result.stdout.split("\n").filter((line) => line.includes("waiting for NATS")).length;
    console.log(`nats-restart: kills ${JSON.stringify(kills)}; rollout took ${Date.now() - started} ms with ${kills.length} outages of ${OUTAGE_MS} ms; ${waits} "waiting for NATS" lines`);
  });
});
