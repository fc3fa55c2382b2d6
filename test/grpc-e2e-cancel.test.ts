/**
 * Cancelling an Upgrade call (or letting its deadline pass) against the real agent daemon managing
 * the real kv service leaves the node consistent: before stop the upgrade ends `aborted` and kv never
 * stopped; after stop the rollback runs to its end (old release, serving, data byte-identical, no
 * journal). Checked with a fresh GetInventory, `hoist agent status --json` and kv itself.
 */
import { describe, expect, it } from "vitest";
import { runAgentStatus } from "../agent/grpc/status-command.ts";
import type { AgentClient, HealthStatus, NodeInventory } from "../shared/proto/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { exists, inBackground, serveStalledArtifact, startRealAgent, type RealAgent } from "./helpers/real-agent.ts";
import { waitFor } from "./helpers/wait-for.ts";

/** Records every status a Watch stream sends until stop(). */
function recordWatch(client: AgentClient, service: string) {
  const controller = new AbortController();
  const statuses: HealthStatus[] = [];
  const done = (async () => {
    for await (const status of client.watch(service, { signal: controller.signal })) statuses.push(status);
  })();
  return {
    statuses,
    async stop(): Promise<HealthStatus[]> {
      controller.abort();
      await done;
      return statuses;
    },
  };
}

/** A node on `version` holding a few keys, kv SERVING, with its data fingerprint and server pid. */
async function nodeWithData(version: string, options: { minHealthyMs?: number } = {}) {
  const agent = await startRealAgent(options);
  expect((await agent.client.upgrade({ service: "kv", to: version })).result).toBe("committed");
  for (const key of ["alpha", "beta", "gamma"]) await agent.node.kv.put(key, `value of ${key}`);
  await waitFor(async () => (await agent.client.check("kv")) === "SERVING", { what: "kv SERVING" });
  const before = { data: await hashTree(agent.node.dataDir), pid: (await agent.node.kv.version()).pid, items: await agent.node.kv.all() };
  return { agent, before };
}

/** What `hoist agent status --json` prints for the node. */
async function statusJson(agent: RealAgent): Promise<NodeInventory> {
  let text = "";
  const code = await runAgentStatus({ target: agent.address, insecure: true, json: true, stdout: { write: (chunk: string) => (text += chunk) } });
  expect(code).toBe(0);
  return JSON.parse(text) as NodeInventory;
}

/** The node is back where it was: old version active and serving, data identical, no journal. */
async function expectConsistent(agent: RealAgent, version: string, before: { data: Record<string, string>; items: Record<string, string> }) {
  const { kv } = await agent.kvInventory();
  expect(kv).toMatchObject({ activeVersion: version, activity: "idle" });
  expect(kv.releases.find((release) => release.active)?.version).toBe(version);
  await waitFor(async () => (await agent.client.check("kv")) === "SERVING", { what: "kv SERVING on the old version" });
  expect((await agent.node.kv.version()).version).toBe(version);
  expect(await agent.node.kv.all()).toEqual(before.items);
  expect(await hashTree(agent.node.dataDir)).toEqual(before.data);
  expect(await exists(agent.journalPath)).toBe(false);
  const status = (await statusJson(agent)).services.find((service) => service.name === "kv")!;
  expect(status).toMatchObject({ activeVersion: version, activity: "idle", health: "SERVING", lastUpgrade: kv.lastUpgrade });
}

describe("a cancelled Upgrade call leaves the node consistent (real engine, real kv)", () => {
  it("cancelled during stage (artifact download held): aborted, kv never stopped, still on the old version and serving", async () => {
    const { agent, before } = await nodeWithData("1.1.0");
    const stalled = await serveStalledArtifact("1.1.1");
    const watch = recordWatch(agent.newClient(), "kv");
    const controller = new AbortController();
    const steps: string[] = [];

    const upgrade = inBackground(agent.client.upgrade({ service: "kv", to: "1.1.1", artifact: stalled.artifact }, { signal: controller.signal, onProgress: (progress) => steps.push(progress.step) }));
    await stalled.started;
    await waitFor(() => steps.includes("stage"), { what: "stage progress" });
    controller.abort();
    await expect(upgrade).rejects.toMatchObject({ code: "CANCELLED" });

    const kv = await agent.waitSettled("1.1.1");
    expect(kv.lastUpgrade).toMatchObject({ result: "aborted", from: "1.1.0", active: "1.1.0", error: { code: "CANCELLED" } });
    expect(kv.releases.map((release) => release.version)).not.toContain("1.1.1");
    expect(new Set(steps)).toEqual(new Set(["stage"]));
    await expectConsistent(agent, "1.1.0", before);
    expect((await agent.node.kv.version()).pid).toBe(before.pid);
    expect(await watch.stop()).toEqual(["SERVING"]);
  });

  it.each(["migrate", "start"])("cancelled once the progress shows %s (after stop): the rollback runs to its end: old version, serving, data intact, no journal", async (cancelAt) => {
    const { agent, before } = await nodeWithData("1.0.0");
    const watch = recordWatch(agent.newClient(), "kv");
    const controller = new AbortController();
    const progress: Progress[] = [];

    const upgrade = agent.client.upgrade(
      { service: "kv", to: "1.1.0" },
      {
        signal: controller.signal,
        onProgress: (item) => {
          progress.push(item);
          if (item.step === cancelAt) controller.abort();
        },
      },
    );
    await expect(upgrade).rejects.toMatchObject({ code: "CANCELLED" });
    expect(progress.map((item) => item.step)).toContain("stop");

    const kv = await agent.waitSettled("1.1.0");
    expect(kv.lastUpgrade).toMatchObject({ result: "rolled-back", from: "1.0.0", to: "1.1.0", active: "1.0.0", error: { code: "CANCELLED" } });
    await expectConsistent(agent, "1.0.0", before);
    expect((await agent.node.kv.version()).pid).not.toBe(before.pid);
    expect(await watch.stop()).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
  });

  it("a deadline that passes while the artifact downloads: TIMEOUT for the caller, aborted on the node, kv never stopped", async () => {
    const { agent, before } = await nodeWithData("1.1.0");
    const stalled = await serveStalledArtifact("1.1.1");

    const upgrade = agent.client.upgrade({ service: "kv", to: "1.1.1", artifact: stalled.artifact }, { deadlineMs: 1000 });
    await expect(upgrade).rejects.toMatchObject({ code: "TIMEOUT", details: { grpcStatus: "DEADLINE_EXCEEDED" } });

    const kv = await agent.waitSettled("1.1.1");
    expect(kv.lastUpgrade).toMatchObject({ result: "aborted", active: "1.1.0", error: { code: "TIMEOUT" } });
    await expectConsistent(agent, "1.1.0", before);
    expect((await agent.node.kv.version()).pid).toBe(before.pid);
  });

  it("a deadline that passes during verify (after stop): TIMEOUT for the caller, the rollback restores the old version and data", async () => {
    // Verify must hold kv healthy for 6 s, so a 3 s deadline passes after stop and before commit.
    const { agent, before } = await nodeWithData("1.0.0", { minHealthyMs: 6000 });
    const steps: string[] = [];

    const upgrade = agent.client.upgrade({ service: "kv", to: "1.1.0" }, { deadlineMs: 3000, onProgress: (item) => steps.push(item.step) });
    await expect(upgrade).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(steps).toContain("stop");
    expect(steps).not.toContain("commit");

    const kv = await agent.waitSettled("1.1.0", { timeoutMs: 40_000 });
    expect(kv.lastUpgrade).toMatchObject({ result: "rolled-back", from: "1.0.0", active: "1.0.0", error: { code: "TIMEOUT" } });
    await expectConsistent(agent, "1.0.0", before);
  });
});
