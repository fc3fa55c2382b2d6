import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { startCluster, writeCatalogVariant, type ClusterNode, type TestCluster } from "./helpers/cluster.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

interface NodeSnapshot {
  version: string;
  data: Record<string, string>;
  files: Record<string, string>;
}

async function seedAndSnapshot(nodes: ClusterNode[]): Promise<Record<string, NodeSnapshot>> {
  const out: Record<string, NodeSnapshot> = {};
  for (const node of nodes) {
    await node.kv.put("owner", node.node);
    await node.kv.put("counter", String(node.port));
    out[node.node] = await snapshotOf(node);
  }
  return out;
}

async function snapshotOf(node: ClusterNode): Promise<NodeSnapshot> {
  return { version: (await node.kv.version()).version, data: await node.kv.all(), files: await hashTree(node.dataDir) };
}

describe("rollout failures (3 agent processes, real nats-server)", () => {
  it("a release that fails its health check after start (1.2.0) stops the rollout after the first node; that node is rolled back with its data, the others are untouched", { timeout: 150_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.1.1" });
    const before = await seedAndSnapshot(cluster.nodes);

    const result = await cluster.hoist(cluster.rolloutArgs("1.2.0"), { timeoutMs: 120_000 });
    expect(result.code, `${result.stdout}\n${result.stderr}`).not.toBe(0);
    expect(result.stdout).toMatch(/phase failed/);

    const rollout = (await cluster.rollout())!;
    expect(rollout.phase).toBe("failed");
    expect(rollout.failure).toMatchObject({ node: "n1" });
    expect(rollout.failure!.message).toMatch(/upgrade failed on node n1/);
    expect(rollout.hops[0]!.nodes).toMatchObject({
      n1: { status: "rolled-back", track: "recover", failures: 1 },
      n2: { status: "pending", failures: 0 },
      n3: { status: "pending", failures: 0 },
    });
    expect(rollout.hops[0]!.nodes.n2!.inFlight).toBeUndefined();

    // every node serves 1.1.1 with the data it had, byte for byte; n2 and n3 never even staged 1.2.0
    for (const node of cluster.nodes) {
      expect(await snapshotOf(node)).toEqual(before[node.node]);
      expect((await node.kv.healthz()).status).toBe(200);
      expect((await node.kv.cluster()).member).toBe(true);
    }
    const [n1, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    expect(await n1.starts("1.2.0")).toBe(1);
    expect(await n1.serviceLog()).toContain("FATAL: simulated crash after start");
    expect(await n2.starts("1.2.0")).toBe(0);
    expect(await n3.starts("1.2.0")).toBe(0);

    const status = await cluster.hoist(["rollout", "status", "--cluster", cluster.cluster]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("phase failed");
    expect(status.stdout).toMatch(/failure: \S+: upgrade failed on node n1/);
    expect(status.stdout).toMatch(/n1\s+rolled-back/);
  });

  it("with --auto-revert, a later node whose migration fails (bad data on n3 only) reverts the nodes already upgraded, last batch first, and every node ends on the old version with its data", { timeout: 150_000 }, async () => {
    const root = await makeTempDir();
    // 1.3.0's migration refuses data dirs holding a `bad-record` file; only n3 gets one.
    const catalog = await writeCatalogVariant(join(root, "catalog.yaml"), (doc) => {
      const release = doc.services.kv.releases.find((entry) => entry.version === "1.3.0")!;
      release.migrations = [
        {
          name: "check-records",
          scope: "node",
          run: ["/bin/sh", "-c", 'if [ -e "$HOIST_DATA_DIR/bad-record" ]; then echo "check-records: bad record on $KV_NODE" >&2; exit 1; fi'],
        },
      ];
    });
    cluster = await startCluster(root, { nodes: 3, version: "1.1.1", catalog });
    await writeFile(join(cluster.nodes[2]!.dataDir, "bad-record"), "unreadable\n");
    const before = await seedAndSnapshot(cluster.nodes);

    const result = await cluster.hoist(cluster.rolloutArgs("1.3.0", ["--auto-revert"]), { timeoutMs: 150_000 });
    expect(result.code, `${result.stdout}\n${result.stderr}`).not.toBe(0);
    expect(result.stdout).toMatch(/phase reverted/);

    const rollout = (await cluster.rollout())!;
    expect(rollout.phase).toBe("reverted");
    expect(rollout.plan.hops[0]!.batches).toEqual([["n1"], ["n2"], ["n3"]]);
    expect(rollout.failure).toMatchObject({ node: "n3" });
    expect(rollout.failure!.message).toContain("bad record on n3");
    expect(rollout.hops[0]!.nodes).toMatchObject({
      n1: { status: "reverted", track: "revert" },
      n2: { status: "reverted", track: "revert" },
      n3: { status: "rolled-back", track: "recover" },
    });
    // batch by batch, last upgraded batch first, as `rollout status --json` shows: n2 goes back (and is done) before n1 starts
    const status = await cluster.hoist(["rollout", "status", "--cluster", cluster.cluster, "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const shown = JSON.parse(status.stdout) as typeof rollout;
    expect(shown).toMatchObject({ id: rollout.id, phase: "reverted", failure: { node: "n3" } });
    const events = shown.history.filter((entry) => entry.event === "revert" || entry.event === "reverted").map((entry) => `${entry.event} ${entry.node}`);
    expect(events).toEqual(["revert n2", "reverted n2", "revert n1", "reverted n1"]);
    const phases = shown.history.filter((entry) => entry.event === "phase").map((entry) => entry.to);
    expect(phases).toEqual(["preflight", "running", "reverting", "reverted"]);

    for (const node of cluster.nodes) {
      const now = await snapshotOf(node);
      expect(now.version).toBe("1.1.1");
      expect(now.data).toEqual(before[node.node]!.data);
      expect(now.files).toEqual(before[node.node]!.files);
      expect((await node.kv.healthz()).status).toBe(200);
      expect((await node.kv.cluster()).member).toBe(true);
    }
    const [n1, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    // n1 and n2 ran 1.3.0 once and 1.1.1 again after the revert; n3 never started 1.3.0
    for (const node of [n1, n2]) {
      expect(await node.starts("1.3.0")).toBe(1);
      expect(await node.starts("1.1.1")).toBe(2);
    }
    expect(await n3.starts("1.3.0")).toBe(0);
  });
});
