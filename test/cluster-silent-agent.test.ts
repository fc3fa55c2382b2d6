import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { startCluster, type ClusterNode, type TestCluster } from "./helpers/cluster.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Steps of the agent's upgrade after which a restarted agent rolls back (stop .. verify). */
const ROLLBACK_ZONE = new Set(["snapshot", "switch", "migrate", "start", "verify"]);

async function journalStep(node: ClusterNode): Promise<string | undefined> {
  const text = await readFile(join(node.config.stateDir, "services", "kv", "journal.json"), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as { step: string }).step;
}

describe("silent agents (3 agent processes, real nats-server)", () => {
  it("an agent killed before `rollout start`: the preflight names the node and the command fails without touching any node", { timeout: 150_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.1.0" });
    const n2 = cluster.nodes[1]!;
    await n2.killAgent("SIGKILL");

    const plan = await cluster.hoist(["plan", "--catalog", cluster.catalog, "--cluster", cluster.cluster, "--service", "kv", "--to", "1.1.1"]);
    expect(plan.code).not.toBe(0);
    expect(plan.stdout).toContain("Preflight: FAILED");
    expect(plan.stdout).toMatch(/node n2: did not answer: no agent answers on NATS/);

    const result = await cluster.hoist(cluster.rolloutArgs("1.1.1"), { timeoutMs: 30_000 });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/PREFLIGHT_FAILED/);
    expect(result.stderr).toMatch(/node n2: did not answer/);
    expect(result.stderr).not.toMatch(/node n[13]/);
    expect(await cluster.rollout()).toBeUndefined();
    for (const node of cluster.nodes) expect((await node.kv.version()).version).toBe("1.1.0");
  });

  it("an agent killed in the middle of its node's upgrade: the rollout fails at the progress deadline naming the node instead of hanging; the restarted agent rolls its node back", { timeout: 150_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.0.0" });
    const [n1, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    for (const node of cluster.nodes) await node.kv.put("owner", node.node);
    const before = await n2.kv.all();

    const start = cluster.spawnHoist(cluster.rolloutArgs("1.1.0", ["--progress-deadline-ms", "15000", "--healthy-deadline-ms", "10000"]));
    await cluster.waitRollout((state) => state.hops[0]?.nodes.n2?.inFlight?.step === "upgrade", { what: "n2's upgrade sent" });
    await waitFor(async () => ROLLBACK_ZONE.has((await journalStep(n2)) ?? ""), { intervalMs: 10, timeoutMs: 30_000, what: "n2 between stop and verify" });
    await n2.killAgent("SIGKILL");

    const result = await start.exited;
    expect(result.code, start.output()).not.toBe(0);
    expect(result.stdout).toMatch(/phase failed/);
    const rollout = (await cluster.rollout())!;
    expect(rollout.phase).toBe("failed");
    expect(rollout.failure!.code).toBe("TIMEOUT");
    expect(rollout.failure!.message).toMatch(/n2/);
    expect(rollout.hops[0]!.nodes).toMatchObject({ n1: { status: "done" }, n2: { status: "failed" }, n3: { status: "pending" } });
    expect(rollout.hops[0]!.nodes.n2!.lastError).toMatchObject({ code: "TIMEOUT", message: expect.stringContaining("node n2") });
    const status = await cluster.hoist(["rollout", "status", "--cluster", cluster.cluster]);
    expect(status.stdout).toMatch(/needs an operator: n2/);
    expect(status.stdout).toMatch(/n2\s+failed/);

    // n1 finished, n3 was never touched
    expect((await n1.kv.version()).version).toBe("1.1.0");
    expect((await n3.kv.version()).version).toBe("1.0.0");
    expect(await n3.starts("1.1.0")).toBe(0);

    // the node's agent comes back: it finds its journal and rolls the node back to 1.0.0 with its data
    await n2.startAgent();
    await waitFor(async () => (await journalStep(n2)) === undefined && (await n2.kv.version()).version === "1.0.0", { timeoutMs: 60_000, what: "n2 rolled back by its agent" });
    expect(await n2.kv.all()).toEqual(before);
    expect((await n2.kv.healthz()).status).toBe(200);
  });

  it(
    "an agent killed in the middle of its node's upgrade and restarted at once: the coordinator asks again under the same key, learns the node rolled back (no timeout), retries it and the rollout succeeds",
    { timeout: 150_000 },
    async () => {
      cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.0.0" });
      const n2 = cluster.nodes[1]!;
      for (const node of cluster.nodes) await node.kv.put("owner", node.node);
      const before = await n2.kv.all();

      const start = cluster.spawnHoist(cluster.rolloutArgs("1.1.0", ["--max-failures", "1"]));
      await cluster.waitRollout((state) => state.hops[0]?.nodes.n2?.inFlight?.step === "upgrade", { what: "n2's upgrade sent" });
      await waitFor(async () => ROLLBACK_ZONE.has((await journalStep(n2)) ?? ""), { intervalMs: 10, timeoutMs: 30_000, what: "n2 between stop and verify" });
      await n2.killAgent("SIGKILL");
      await n2.startAgent();

      const result = await start.exited;
      expect(result.code, start.output()).toBe(0);
      const rollout = (await cluster.rollout())!;
      expect(rollout.phase).toBe("succeeded");
      expect(rollout.failure).toBeUndefined();
      // the first attempt's answer is the restarted agent's own rollback, not a coordinator timeout
      expect(rollout.hops[0]!.nodes.n2).toMatchObject({ status: "done", attempt: 2, failures: 1, lastError: { step: "upgrade", message: expect.stringContaining("the agent stopped during") } });
      expect(rollout.history.filter((entry) => entry.event === "node-failed").map((entry) => entry.message)).toEqual([expect.stringMatching(/^upgrade rolled-back: /)]);
      for (const node of cluster.nodes) expect((await node.kv.version()).version).toBe("1.1.0");
      expect(await n2.kv.all()).toEqual(before);
      // two keys on n2 (attempt 1 rolled back by the agent, attempt 2 committed), one on the others
      expect(await n2.recordedKeys()).toHaveLength(2);
      expect(await cluster.nodes[0]!.recordedKeys()).toHaveLength(1);
      expect((await readFile(cluster.sharedDb, "utf8")).trim().split("\n")).toHaveLength(1);
    },
  );
});
