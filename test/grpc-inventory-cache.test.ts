/**
 * GetInventory answers from the agent's cache (no listing, no file read per call) and still shows
 * every change at once: those the agent makes itself (upgrade, snapshot, stage, rollback) and those
 * of another process (a `hoist snapshot create` CLI run, an operator removing a snapshot).
 *
 * How a test knows the answer came from the cache: last-result.json rewritten in place (no rename,
 * so no dir changes) is not shown. A dir changed within the last INVENTORY_SETTLE_MS is read on
 * every call (coarse timestamps could hide a second change), so the tests let that pass first.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { startAgentGrpcServer } from "../agent/grpc/server.ts";
import { NodeAgent } from "../agent/node-agent.ts";
import { INVENTORY_SETTLE_MS } from "../agent/services/inventory-cache.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { createAgentClient, type AgentClient } from "../shared/proto/index.ts";
import { runHoist } from "./helpers/hoist-cli.ts";
import { startRealAgent } from "./helpers/real-agent.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

/**
 * Waits out the settle window, then checks that GetInventory is served from the cache: the recorded
 * last outcome rewritten in place (same inode, no rename; only a fresh disk read would show it) stays
 * unseen. The file is put back as it was (in place too) before the agent acts on it again.
 */
async function expectCachedAnswers(client: AgentClient, stateDir: string): Promise<void> {
  await sleep(INVENTORY_SETTLE_MS + 200);
  const cached = (await client.getInventory()).services[0]!.lastUpgrade!.to;
  const path = join(stateDir, "services", "kv", "last-result.json");
  const original = await readFile(path, "utf8");
  await writeFile(path, JSON.stringify({ ...(JSON.parse(original) as object), to: "9.9.9-edited-in-place" }));
  try {
    expect((await client.getInventory()).services[0]!.lastUpgrade!.to).toBe(cached);
  } finally {
    await writeFile(path, original);
  }
}

const EMPTY_HOST = { hostname: "h", os: "linux", kernel: "6", arch: "x64", cpuModel: "cpu", cpuCores: 1, memTotalBytes: 1, memFreeBytes: 1, uptimeSeconds: 1, disks: [] };

function runChild(command: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: "ignore" });
    child.once("error", reject);
    child.once("close", resolve);
  });
}

describe("GetInventory from the agent's cache", () => {
  it("shows the agent's own upgrade, snapshot, stage and rollback at once, and an operator's removal of a snapshot", { timeout: 90_000 }, async () => {
    const agent = await startRealAgent({ node: "cache-1", cluster: "cache-test" });
    const { stateDir } = agent.node.config;
    expect((await agent.client.upgrade({ service: "kv", to: "1.0.0" })).result).toBe("committed");
    await expectCachedAnswers(agent.client, stateDir);

    expect((await agent.client.upgrade({ service: "kv", to: "1.1.0" })).result).toBe("committed");
    let kv = (await agent.client.getInventory()).services[0]!;
    expect(kv).toMatchObject({ activeVersion: "1.1.0", lastUpgrade: { result: "committed", to: "1.1.0" } });
    expect(kv.releases.map((release) => [release.version, release.active])).toEqual([
      ["1.0.0", false],
      ["1.1.0", true],
    ]);
    const beforeUpgrade = kv.snapshots.find((snapshot) => snapshot.label === "before upgrade to 1.1.0");
    expect(beforeUpgrade).toBeDefined();

    await expectCachedAnswers(agent.client, stateDir);
    const taken = await agent.client.snapshot("kv", { label: "by grpc" });
    kv = (await agent.client.getInventory()).services[0]!;
    expect(kv.snapshots.map((snapshot) => snapshot.id)).toContain(taken.id);

    await expectCachedAnswers(agent.client, stateDir);
    await agent.client.stage("kv", "1.1.1");
    kv = (await agent.client.getInventory()).services[0]!;
    expect(kv.releases.map((release) => release.version)).toEqual(["1.0.0", "1.1.0", "1.1.1"]);

    await expectCachedAnswers(agent.client, stateDir);
    expect((await agent.client.rollback("kv")).result).toBe("rolled-back");
    kv = (await agent.client.getInventory()).services[0]!;
    expect(kv).toMatchObject({ activeVersion: "1.0.0", lastUpgrade: { result: "rolled-back", to: "1.0.0" } });

    await expectCachedAnswers(agent.client, stateDir);
    expect(await runChild("rm", ["-rf", join(stateDir, "services", "kv", "snapshots", taken.id)])).toBe(0);
    kv = (await agent.client.getInventory()).services[0]!;
    expect(kv.snapshots.map((snapshot) => snapshot.id)).not.toContain(taken.id);
    expect(kv.snapshots.length).toBeGreaterThan(0);
  });

  it("shows a snapshot that a separate `hoist snapshot create` process took under the same state dir", { timeout: 90_000 }, async () => {
    const node = await makeSampleNode(await makeTempDir(), { node: "cache-2", cluster: "cache-test" });
    const owner = await node.openAgent();
    expect((await owner.upgrade({ service: "kv", to: "1.0.0" })).result).toBe("committed");
    await owner.stop();

    // The reader serves gRPC and holds no lock, so the CLI can take the owner lock and write.
    const reader = new NodeAgent(node.config, { logger: silentLogger(), role: "reader", hostFacts: () => ({ ...EMPTY_HOST, readAt: new Date().toISOString() }) });
    await reader.start();
    const server = await startAgentGrpcServer(reader, { listen: "127.0.0.1:0", insecure: true }, silentLogger());
    const client = createAgentClient(server.address, { insecure: true });
    try {
      const before = (await client.getInventory()).services[0]!.snapshots.map((snapshot) => snapshot.id);
      await expectCachedAnswers(client, node.config.stateDir);

      const created = await runHoist(["snapshot", "create", "-c", node.configPath, "--label", "by the cli", "--json"]);
      expect(created.code, created.stderr).toBe(0);
      const id = (JSON.parse(created.stdout) as { id: string }).id;
      const kv = (await client.getInventory()).services[0]!;
      expect(before).not.toContain(id);
      expect(kv.snapshots.map((snapshot) => snapshot.id).sort()).toEqual([...before, id].sort());
      expect(kv.snapshots.find((snapshot) => snapshot.id === id)).toMatchObject({ label: "by the cli", service: "kv" });
    } finally {
      client.close();
      await server.stop({ graceMs: 0 });
    }
  });
});
