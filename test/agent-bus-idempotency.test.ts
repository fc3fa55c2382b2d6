import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeFileTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { sendAgentCommand } from "../coordinator/bus/agent-commands.ts";
import type { UpgradeOutcome } from "../shared/types/index.ts";

/** drain, rejoin, stop and start over NATS honour their idempotency key: a repeat returns the recorded result and runs nothing. */
describe("every agent verb honours its idempotency key", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster(await makeFileTempDir(), { nodes: 1, version: "1.0.0", lifetime: "file" });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  const send = <T>(verb: "drain" | "rejoin" | "stop" | "start" | "upgrade", payload: Record<string, unknown>) =>
    sendAgentCommand<T>(cluster.nc, { cluster: cluster.cluster, node: "n1" }, verb, { service: "kv", ...payload }, 60_000);

  it("a drain repeated under its key after the upgrade restarted the service does not take the node out again", async () => {
    const kv = cluster.nodes[0]!.kv;
    await send("drain", { key: "idem/drain/1" });
    expect((await kv.cluster()).member).toBe(false);
    const upgraded = await send<UpgradeOutcome>("upgrade", { to: "1.1.0", skipDrain: true, key: "idem/upgrade/1" });
    expect(upgraded.result, JSON.stringify(upgraded.error)).toBe("committed");
    expect((await kv.cluster()).member).toBe(true);

    await expect(send("drain", { key: "idem/drain/1" })).resolves.toBeNull();
    expect((await kv.cluster()).member).toBe(true);
  });

  it("a rejoin repeated under its key after a later drain does not put the node back", async () => {
    const kv = cluster.nodes[0]!.kv;
    await send("rejoin", { key: "idem/rejoin/1" });
    await send("drain", { key: "idem/drain/2" });
    expect((await kv.cluster()).member).toBe(false);
    await send("rejoin", { key: "idem/rejoin/1" });
    expect((await kv.cluster()).member).toBe(false);
    await send("rejoin", { key: "idem/rejoin/2" });
    expect((await kv.cluster()).member).toBe(true);
  });

  it("a stop repeated under its key after a start does not stop the service again", async () => {
    const kv = cluster.nodes[0]!.kv;
    await send("stop", { key: "idem/stop/1" });
    await expect(kv.healthz()).rejects.toThrow();
    await send("start", { key: "idem/start/1" });
    await waitFor(async () => (await kv.healthz()).status === 200, { timeoutMs: 20_000, what: "kv to serve again" });
    await send("stop", { key: "idem/stop/1" });
    expect((await kv.healthz()).status).toBe(200);
  });
});
