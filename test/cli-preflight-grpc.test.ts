import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";

describe("preflight opens every agent's gRPC endpoint with the rollout's TLS settings", () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it("plaintext agents and a rollout without --agent-insecure: `rollout start` fails its preflight naming the node and the TLS mismatch, and records no rollout", async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 1, version: "1.0.0" });
    const args = cluster.rolloutArgs("1.1.1").filter((arg) => arg !== "--agent-insecure");
    const result = await cluster.hoist(args, { timeoutMs: 60_000 });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).toContain("PREFLIGHT_FAILED");
    expect(output).toMatch(/node n1: TLS mismatch with gRPC at 127\.0\.0\.1:\d+/);
    expect(output).toContain("--agent-insecure");
    expect(await cluster.rollout()).toBeUndefined();
    expect(await cluster.nodes[0]!.starts("1.1.1")).toBe(0);
  });
});
