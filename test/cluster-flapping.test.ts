import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type ClusterNode, type TestCluster } from "./helpers/cluster.ts";
import { writeFlappingCatalog } from "./helpers/flapping-release.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("a flapping release (2 agent processes, real nats-server)", () => {
  it("is reported by the health gate as HEALTH_CHECK_FAILED with its last status, not as a step that got no answer; the node is rolled back, the other untouched", { timeout: 120_000 }, async () => {
    const root = await makeTempDir();
    const catalog = await writeFlappingCatalog(root);
    cluster = await startCluster(root, { nodes: 2, version: "1.1.1", catalog });

    // The agent's own verify (300 ms) passes; the coordinator's gate (3 s within 6 s) cannot hold on a release that flips every second.
    const args = cluster.rolloutArgs("1.1.2").map((arg) => (arg === "20000" ? "6000" : arg === "300" ? "3000" : arg));
    expect(args).toContain("6000");
    const result = await cluster.hoist(args, { timeoutMs: 100_000 });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(1);
    expect(result.stdout).toMatch(/phase failed/);

    const rollout = (await cluster.rollout())!;
    expect(rollout.phase).toBe("failed");
    expect(rollout.failure).toMatchObject({ node: "n1", code: "HEALTH_CHECK_FAILED" });
    expect(rollout.failure!.message).toMatch(/verify failed on node n1 \(kv was not SERVING for 3000 ms within 6000 ms \(last status: (NOT_)?SERVING\)\)/);
    expect(rollout.failure!.message).not.toMatch(/got no answer/);
    expect(rollout.hops[0]!.nodes).toMatchObject({
      n1: { status: "rolled-back", failures: 1, lastError: { step: "verify", code: "HEALTH_CHECK_FAILED" } },
      n2: { status: "pending", failures: 0 },
    });

    const [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
    expect(await n1.starts("1.1.2")).toBe(1);
    expect(await n1.serviceLog()).toContain("health flapped to unhealthy");
    expect((await n1.kv.version()).version).toBe("1.1.1");
    expect(await n2.starts("1.1.2")).toBe(0);
  });
});
