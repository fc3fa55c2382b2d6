import { statfs } from "node:fs/promises";
import { hostname, totalmem } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startAgentGrpcServer } from "../agent/grpc/server.ts";
import { HostFactsCache } from "../agent/host/facts.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { createAgentClient } from "../shared/proto/index.ts";
import { FakeNodeAgent } from "./helpers/fake-node-agent.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const caches: HostFactsCache[] = [];
afterEach(() => {
  for (const cache of caches.splice(0)) cache.stop();
});

async function startCache(paths: string[], refreshMs?: number): Promise<HostFactsCache> {
  const cache = new HostFactsCache({ paths, refreshMs, logger: silentLogger() });
  caches.push(cache);
  await cache.start();
  return cache;
}

describe("HostFactsCache", () => {
  it("get() before start() fails with WRONG_STATE", () => {
    expect(() => new HostFactsCache({ paths: [] }).get()).toThrow(expect.objectContaining({ code: "WRONG_STATE" }));
  });

  it("after start(), get() returns this host's facts synchronously", async () => {
    const dir = await makeTempDir();
    const cache = await startCache([dir, join(dir, "not", "created", "yet")]);
    const started = performance.now();
    const facts = cache.get();
    const elapsed = performance.now() - started;
    console.log(`HostFactsCache.get(): ${(elapsed * 1000).toFixed(1)} µs`);
    expect(facts).not.toBeInstanceOf(Promise);
    expect(facts.hostname).toBe(hostname());
    expect(facts.os.length).toBeGreaterThan(0);
    expect(facts.kernel.length).toBeGreaterThan(0);
    expect(facts.arch).toBe(process.arch);
    expect(facts.cpuCores).toBeGreaterThan(0);
    expect(Math.abs(facts.memTotalBytes - totalmem()) / totalmem()).toBeLessThan(0.01);
    expect(facts.memFreeBytes).toBeGreaterThan(0);
    expect(facts.memFreeBytes).toBeLessThanOrEqual(facts.memTotalBytes);
    expect(facts.uptimeSeconds).toBeGreaterThan(0);
    expect(Number.isInteger(facts.uptimeSeconds)).toBe(true);
    const fs = await statfs(dir);
    expect(facts.disks).toEqual([
      { path: dir, freeBytes: expect.any(Number), totalBytes: fs.blocks * fs.bsize },
      { path: join(dir, "not", "created", "yet"), freeBytes: expect.any(Number), totalBytes: fs.blocks * fs.bsize },
    ]);
    expect(facts.disks[0]!.freeBytes).toBeGreaterThan(0);
    expect(Date.parse(facts.readAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("refreshes in the background", async () => {
    const dir = await makeTempDir();
    const cache = await startCache([dir], 50);
    const first = cache.get().readAt;
    await expect.poll(() => cache.get().readAt, { timeout: 5000 }).not.toBe(first);
  });

  it("GetInventory with real host facts answers well under 100 ms (median of 7 calls)", async () => {
    const dir = await makeTempDir();
    const cache = await startCache([dir]);
    const agent = new FakeNodeAgent();
    agent.overrides.inventory = async () => ({ ...agent.inventoryValue, host: cache.get() });
    const server = await startAgentGrpcServer(agent, { listen: "127.0.0.1:0", insecure: true }, silentLogger());
    const client = createAgentClient(server.address, { insecure: true });
    try {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const started = performance.now();
        const inventory = await client.getInventory();
        times.push(performance.now() - started);
        expect(inventory.host).toStrictEqual(cache.get());
      }
      times.sort((a, b) => a - b);
      console.log(`GetInventory with host facts: median ${times[3]!.toFixed(2)} ms, max ${times[6]!.toFixed(2)} ms`);
      expect(times[3]).toBeLessThan(100);
    } finally {
      client.close();
      await server.stop();
    }
  });
});
