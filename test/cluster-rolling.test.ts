import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type ClusterNode, type TestCluster } from "./helpers/cluster.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Writes a few keys (one with bytes the 2.0.0 file-per-key format must escape) and returns every node's data. */
async function seed(nodes: ClusterNode[]): Promise<Record<string, Record<string, string>>> {
  const data: Record<string, Record<string, string>> = {};
  for (const node of nodes) {
    await node.kv.put(`owner`, node.node);
    await node.kv.put(`greeting`, `hello from ${node.node}`);
    await node.kv.put(`odd key/with spaces+%`, `value ü ${node.node}`);
    data[node.node] = await node.kv.all();
  }
  return data;
}

async function dataOf(nodes: ClusterNode[]): Promise<Record<string, Record<string, string>>> {
  return Object.fromEntries(await Promise.all(nodes.map(async (node) => [node.node, await node.kv.all()] as const)));
}

describe("rolling cluster upgrade over NATS (3 agent processes, real nats-server)", () => {
  it("upgrades 3 nodes 1.0.0 -> 1.1.0 -> 1.1.1: every hop on every node once, the cluster-once migration once, every node's data migrated", { timeout: 150_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.0.0" });
    const before = await seed(cluster.nodes);

    const result = await cluster.hoist(cluster.rolloutArgs("1.1.1"), { timeoutMs: 150_000 });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain("Hop 1/2: 1.0.0 -> 1.1.0");
    expect(result.stdout).toContain("Hop 2/2: 1.1.0 -> 1.1.1 (minor)");
    expect(result.stdout).toMatch(/phase succeeded/);

    for (const node of cluster.nodes) {
      const version = await node.kv.version();
      expect(version).toMatchObject({ version: "1.1.1", schema: 2, node: node.node });
      const store = JSON.parse(await readFile(join(node.dataDir, "store.json"), "utf8"));
      expect(store.schema).toBe(2);
      expect((await node.kv.cluster()).member).toBe(true);
      // each hop's release started exactly once on every node: nothing ran twice, nothing rolled back
      expect(await node.starts("1.1.0")).toBe(1);
      expect(await node.starts("1.1.1")).toBe(1);
      expect(await node.starts("1.0.0")).toBe(1);
    }
    expect(await dataOf(cluster.nodes)).toEqual(before);

    const sharedDb = (await readFile(cluster.sharedDb, "utf8")).trim().split("\n");
    expect(sharedDb).toHaveLength(1);
    expect(sharedDb[0]).toMatch(/^1\.1\.0 migrated by n[123] at /);

    const rollout = (await cluster.rollout())!;
    expect(rollout.phase).toBe("succeeded");
    expect(rollout.plan.hops.map((hop) => `${hop.from}->${hop.to} ${hop.mode}`)).toEqual(["1.0.0->1.1.0 rolling", "1.1.0->1.1.1 rolling"]);
    for (const hop of rollout.hops) for (const state of Object.values(hop.nodes)) expect(state).toMatchObject({ status: "done", attempt: 1, failures: 0 });
  });

  it("does 1.1.1 -> 2.0.0 as a full stop, says why in the plan (text and --json), and ends with every node on 2.0.0 with schema 3 data", { timeout: 150_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.1.1" });
    const before = await seed(cluster.nodes);
    const reason = "2.0.0 changes the on-disk format; 1.x nodes cannot read it";
    const planArgs = ["plan", "--catalog", cluster.catalog, "--cluster", cluster.cluster, "--service", "kv", "--to", "2.0.0"];

    const plan = await cluster.hoist(planArgs);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain("Hop 1/1: 1.1.1 -> 2.0.0");
    expect(plan.stdout).toContain(`strategy: full-stop (${reason})`);
    expect(plan.stdout).toContain("stop n1, n2, n3");
    const planJson = await cluster.hoist([...planArgs, "--json"]);
    expect(planJson.code, planJson.stderr).toBe(0);
    const parsed = JSON.parse(planJson.stdout);
    expect(parsed.hops).toHaveLength(1);
    expect(parsed.hops[0]).toMatchObject({ from: "1.1.1", to: "2.0.0", mode: "full-stop", reason, batches: [["n1"], ["n2", "n3"]] });
    expect(parsed.preflight.ok).toBe(true);
    // planning changes nothing
    for (const node of cluster.nodes) expect((await node.kv.version()).version).toBe("1.1.1");

    const result = await cluster.hoist(cluster.rolloutArgs("2.0.0"), { timeoutMs: 120_000 });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain(`full-stop (${reason})`);
    // never mixed: every node stopped before any upgraded; the leader n1 upgraded (alone) before the others
    const stepEvents = result.stdout.split("\n").flatMap((line) => /rollout\s+(n\d): (\w+) ok/.exec(line)?.slice(1, 3).join(" ") ?? []);
    const positions = (pattern: RegExp) => stepEvents.flatMap((event, index) => (pattern.test(event) ? [index] : []));
    expect(positions(/ stop$/)).toHaveLength(3);
    expect(positions(/ upgrade$/)).toHaveLength(3);
    expect(Math.max(...positions(/ stop$/))).toBeLessThan(Math.min(...positions(/ upgrade$/)));
    expect(positions(/^n1 upgrade$/)[0]).toBeLessThan(Math.min(...positions(/^n[23] upgrade$/)));

    for (const node of cluster.nodes) {
      expect(await node.kv.version()).toMatchObject({ version: "2.0.0", schema: 3 });
      expect((await readFile(join(node.dataDir, "FORMAT"), "utf8")).trim()).toBe("3");
      const files = await readdir(node.dataDir);
      expect(files).not.toContain("store.json");
      expect(files).toContain("items");
      expect(await node.starts("2.0.0")).toBe(1);
    }
    expect(await dataOf(cluster.nodes)).toEqual(before);
    const rollout = (await cluster.rollout())!;
    expect(rollout.phase).toBe("succeeded");
    expect(rollout.plan.hops[0]).toMatchObject({ mode: "full-stop", reason });
  });
});
