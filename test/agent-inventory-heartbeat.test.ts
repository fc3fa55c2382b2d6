/**
 * The inventory heartbeat publishes from the agent's cache: it reads no listing and no file (a
 * file rewritten in place, which only a disk read would see, stays unpublished), writes KV only on
 * a change or at the keepalive, and still publishes at once what changed: the agent's own work and
 * another process's removal of a snapshot. Real nats-server, real agent, real files.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KvWatchInclude, type KV, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentBus } from "../agent/bus/agent-bus.ts";
import { INVENTORY_SETTLE_MS } from "../agent/services/inventory-cache.ts";
import { sendAgentCommand } from "../coordinator/bus/agent-commands.ts";
import { connectBus, decodeJson, inventoryKey, openBuckets } from "../shared/bus/index.ts";
import type { NodeInventory, UpgradeOutcome } from "../shared/types/index.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

/** The next `count` inventory records the agent writes to KV after now. */
async function nextWrites(kv: KV, key: string, count: number): Promise<(NodeInventory & { lastSeen: string })[]> {
  const watcher = await kv.watch({ key, include: KvWatchInclude.UpdatesOnly });
  const records: (NodeInventory & { lastSeen: string })[] = [];
  const timer = setTimeout(() => watcher.stop(), 30_000);
  try {
    for await (const entry of watcher) {
      if (entry.operation !== "PUT") continue;
      records.push(decodeJson(entry.value));
      if (records.length === count) break;
    }
  } finally {
    clearTimeout(timer);
    watcher.stop();
  }
  expect(records).toHaveLength(count);
  return records;
}

describe("the inventory heartbeat", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectBus({ servers: [server.url], name: "heartbeat-test" });
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("publishes from the cache, not from disk, and publishes the agent's and an operator's changes", { timeout: 90_000 }, async () => {
    const node = await makeSampleNode(await makeTempDir(), { node: "hb-1", cluster: "heartbeat-test" });
    const agent = await node.openAgent();
    const { inventory: kv } = await openBuckets(nc);
    const bus = new AgentBus(agent, nc, kv, silentLogger(), { agentVersion: "0.1.0", heartbeatMs: 50, keepaliveMs: 200 });
    await bus.start();
    const key = inventoryKey("heartbeat-test", "hb-1");
    const published = async () => decodeJson<NodeInventory>((await kv.get(key))!.value).services[0]!;
    try {
      const outcome = await sendAgentCommand<UpgradeOutcome>(nc, { cluster: "heartbeat-test", node: "hb-1" }, "upgrade", { service: "kv", to: "1.0.0" }, 60_000);
      expect(outcome.result).toBe("committed");
      await waitFor(async () => (await published()).activeVersion === "1.0.0", { what: "the upgrade in the published inventory" });

      // Past the settle window one heartbeat reads and caches; from then on heartbeats read nothing.
      await sleep(INVENTORY_SETTLE_MS + 200);
      await nextWrites(kv, key, 1);
      const path = join(node.config.stateDir, "services", "kv", "last-result.json");
      const original = await readFile(path, "utf8");
      await writeFile(path, JSON.stringify({ ...(JSON.parse(original) as object), to: "9.9.9-edited-in-place" }));
      const keepalives = await nextWrites(kv, key, 3);
      expect(keepalives.map((record) => record.services[0]!.lastUpgrade?.to)).toEqual(["1.0.0", "1.0.0", "1.0.0"]);
      expect(new Set(keepalives.map((record) => record.lastSeen)).size).toBe(3);
      await writeFile(path, original);

      const snapshot = await agent.snapshot("kv", { label: "heartbeat" });
      await waitFor(async () => (await published()).snapshots.some((entry) => entry.id === snapshot.id), { what: "the agent's snapshot in the published inventory" });

      await sleep(INVENTORY_SETTLE_MS + 200);
      await nextWrites(kv, key, 1);
      const removed = await new Promise<number | null>((resolve, reject) => {
        const child = spawn("rm", ["-rf", join(node.config.stateDir, "services", "kv", "snapshots", snapshot.id)], { stdio: "ignore" });
        child.once("error", reject);
        child.once("close", resolve);
      });
      expect(removed).toBe(0);
      await waitFor(async () => !(await published()).snapshots.some((entry) => entry.id === snapshot.id), { what: "the operator's removal in the published inventory" });
    } finally {
      await bus.stop();
      await agent.stop();
    }
  });

  it("writes KV only when the inventory changed or the keepalive is due", { timeout: 60_000 }, async () => {
    const node = await makeSampleNode(await makeTempDir(), { node: "hb-2", cluster: "heartbeat-test" });
    const agent = await node.openAgent();
    const { inventory: kv } = await openBuckets(nc);
    // Heartbeats every 20 ms, keepalive every 1 s: an idle agent writes about once a second, not 50 times.
    const bus = new AgentBus(agent, nc, kv, silentLogger(), { agentVersion: "0.1.0", heartbeatMs: 20, keepaliveMs: 1000 });
    await bus.start();
    const key = inventoryKey("heartbeat-test", "hb-2");
    try {
      await sleep(INVENTORY_SETTLE_MS + 200);
      const [first, second] = await nextWrites(kv, key, 2);
      expect(Date.parse(second!.lastSeen) - Date.parse(first!.lastSeen)).toBeGreaterThanOrEqual(1000);
    } finally {
      await bus.stop();
      await agent.stop();
    }
  });
});
