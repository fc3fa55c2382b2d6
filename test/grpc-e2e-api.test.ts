/**
 * The agent's gRPC API against the real agent daemon (runAgent: real NodeAgent, health monitors,
 * host facts cache, gRPC server) managing the real kv service: inventory, streamed upgrade progress,
 * BUSY, error mapping with the hoist-error-code trailer, and mutual TLS.
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODE_TRAILER, RETRYABLE_TRAILER, loadHoistProto } from "../shared/proto/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { issueCert, makeCa, type TestCa, type TestCert } from "./helpers/certs.ts";
import { inBackground, serveStalledArtifact, startRealAgent, type RealAgent } from "./helpers/real-agent.ts";
import { ensureSampleReleases } from "./helpers/sample-service.ts";
import { waitFor } from "./helpers/wait-for.ts";

async function sha256Of(version: string): Promise<string> {
  const { artifacts } = await ensureSampleReleases();
  return artifacts.find((artifact) => artifact.version === version)!.sha256;
}

/** Runs a raw Upgrade or Rollback call to its end, as any gRPC client sees it: messages and the final status with trailers. */
function rawCall(agent: RealAgent, method: "upgrade" | "rollback", request: object): Promise<{ messages: Record<string, unknown>[]; status: grpc.StatusObject }> {
  const { grpcObject } = loadHoistProto();
  const raw = new grpcObject.hoist.agent.v1.Agent(agent.address, grpc.credentials.createInsecure());
  const call = raw[method](request);
  const messages: Record<string, unknown>[] = [];
  call.on("data", (message: Record<string, unknown>) => messages.push(message));
  call.on("error", () => {});
  return new Promise((resolve) =>
    call.on("status", (status: grpc.StatusObject) => {
      raw.close();
      resolve({ messages, status });
    }),
  );
}

function trailers(status: grpc.StatusObject) {
  return { code: grpc.status[status.code], hoist: status.metadata.get(ERROR_CODE_TRAILER)[0], retryable: status.metadata.get(RETRYABLE_TRAILER)[0], details: status.details };
}

describe("inventory and upgrade over gRPC, against the real engine", () => {
  it("GetInventory is complete (node, services with version, sha256, releases, snapshots, last result, health, activity; host facts) and answers well under 100 ms", async () => {
    const agent = await startRealAgent({ node: "node-7", cluster: "inventory-test" });
    expect((await agent.client.upgrade({ service: "kv", to: "1.0.0" })).result).toBe("committed");
    expect((await agent.client.upgrade({ service: "kv", to: "1.1.0" })).result).toBe("committed");
    await waitFor(async () => (await agent.client.check("kv")) === "SERVING", { what: "kv SERVING" });

    const { inventory, kv } = await agent.kvInventory();
    expect(inventory).toMatchObject({ node: "node-7", cluster: "inventory-test", agentVersion: "0.1.0", grpcAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(inventory.services.map((service) => service.name)).toEqual(["kv"]);
    expect(kv).toMatchObject({ activeVersion: "1.1.0", activeSha256: await sha256Of("1.1.0"), health: "SERVING", activity: "idle" });
    expect(kv.releases).toEqual([
      { version: "1.0.0", sha256: await sha256Of("1.0.0"), stagedAt: expect.any(String), active: false },
      { version: "1.1.0", sha256: await sha256Of("1.1.0"), stagedAt: expect.any(String), active: true },
    ]);
    const beforeUpgrade = kv.snapshots.find((snapshot) => snapshot.label === "before upgrade to 1.1.0");
    expect(beforeUpgrade).toMatchObject({ service: "kv", version: "1.0.0", compression: "none", createdAt: expect.any(String) });
    expect(beforeUpgrade!.files).toBeGreaterThan(0);
    expect(beforeUpgrade!.bytes).toBeGreaterThan(0);
    expect(kv.lastUpgrade).toMatchObject({ result: "committed", service: "kv", from: "1.0.0", to: "1.1.0", active: "1.1.0", hops: [{ from: "1.0.0", to: "1.1.0" }], snapshotId: beforeUpgrade!.id });

    const host = inventory.host;
    expect(host.os.length).toBeGreaterThan(0);
    expect(host.kernel.length).toBeGreaterThan(0);
    expect(host.hostname.length).toBeGreaterThan(0);
    expect(host.cpuCores).toBeGreaterThan(0);
    expect(host.cpuModel.length).toBeGreaterThan(0);
    expect(host.memTotalBytes).toBeGreaterThan(0);
    expect(host.memFreeBytes).toBeGreaterThan(0);
    expect(host.uptimeSeconds).toBeGreaterThan(0);
    expect(host.disks.map((disk) => disk.path)).toEqual([agent.node.installRoot, agent.node.dataDir]);
    for (const disk of host.disks) {
      expect(disk.freeBytes).toBeGreaterThan(0);
      expect(disk.totalBytes).toBeGreaterThanOrEqual(disk.freeBytes);
    }

    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      await agent.client.getInventory();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(`GetInventory of the real agent: median ${times[3]!.toFixed(2)} ms, max ${times[6]!.toFixed(2)} ms`);
    expect(times[3]).toBeLessThan(100);
  });

  it("an Upgrade started over gRPC streams every step with messages, then ends with its result", async () => {
    const agent = await startRealAgent();
    expect((await agent.client.upgrade({ service: "kv", to: "1.0.0" })).result).toBe("committed");
    await agent.node.kv.put("k", "v");

    const progress: Progress[] = [];
    const outcome = await agent.client.upgrade({ service: "kv", to: "1.1.0" }, { onProgress: (item) => progress.push(item) });

    expect(outcome).toMatchObject({ result: "committed", service: "kv", from: "1.0.0", to: "1.1.0", active: "1.1.0", hops: [{ from: "1.0.0", to: "1.1.0" }] });
    const steps = [...new Set(progress.map((item) => item.step))];
    expect(steps).toEqual(["stage", "drain", "stop", "snapshot", "switch", "migrate", "start", "verify", "rejoin", "commit"]);
    for (const step of steps) {
      expect(progress).toContainEqual(expect.objectContaining({ step, message: `${step} started` }));
      expect(progress).toContainEqual(expect.objectContaining({ step, message: `${step} done` }));
    }
    expect(progress.map((item) => item.message)).toEqual(
      expect.arrayContaining([
        "staging 1.1.0 (1/1)",
        expect.stringContaining("running stop hook"),
        expect.stringContaining("verifying snapshot"),
        "current -> 1.1.0",
        "1.0.0 -> 1.1.0: running store-schema-2",
        expect.stringMatching(/^all 2 probes healthy for \d+ of 500 ms$/),
      ]),
    );
    expect(progress.some((item) => item.step === "stage" && item.percent === 100 && item.totalBytes !== undefined)).toBe(true);
    expect(await agent.node.kv.version()).toMatchObject({ version: "1.1.0", schema: 2 });
    expect(await agent.node.kv.get("k")).toBe("v");

    // The same as any gRPC client sees it: progress messages, exactly one result as the last message, status OK.
    const { messages, status } = await rawCall(agent, "upgrade", { service: "kv", to: "1.1.0" });
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.map((message) => message.event)).toEqual(["result"]);
    expect(messages[0]).toMatchObject({ result: { result: "UPGRADE_RESULT_NOOP", active: "1.1.0" } });
  });

  it("a second Upgrade (or a Rollback) while one runs is refused with BUSY (ABORTED, retryable); the first then commits", async () => {
    const agent = await startRealAgent();
    expect((await agent.client.upgrade({ service: "kv", to: "1.1.0" })).result).toBe("committed");
    const stalled = await serveStalledArtifact("1.1.1");

    const first = inBackground(agent.client.upgrade({ service: "kv", to: "1.1.1", artifact: stalled.artifact }));
    await stalled.started;

    await expect(agent.newClient().upgrade({ service: "kv", to: "1.1.1" })).rejects.toMatchObject({ code: "BUSY", retryable: true, details: { grpcStatus: "ABORTED" } });
    const raw = await rawCall(agent, "upgrade", { service: "kv", to: "1.1.1" });
    expect(trailers(raw.status)).toMatchObject({ code: "ABORTED", hoist: "BUSY", retryable: "true" });
    expect(raw.messages).toEqual([]);
    expect(trailers((await rawCall(agent, "rollback", { service: "kv" })).status)).toMatchObject({ code: "ABORTED", hoist: "BUSY" });
    expect((await agent.kvInventory()).kv.activity).toBe("staging");

    stalled.release();
    expect(await first).toMatchObject({ result: "committed", from: "1.1.0", active: "1.1.1" });
    expect((await agent.node.kv.version()).version).toBe("1.1.1");
  });

  it("refusals map to gRPC statuses with the hoist-error-code trailer and leave the node untouched", async () => {
    const agent = await startRealAgent();
    // A fresh install has nothing to roll back: WRONG_STATE.
    expect((await agent.client.upgrade({ service: "kv", to: "1.1.0" })).result).toBe("committed");
    await waitFor(async () => (await agent.client.check("kv")) === "SERVING", { what: "kv SERVING" });
    const pid = (await agent.node.kv.version()).pid;

    const cases: [string, "upgrade" | "rollback", object, { code: string; hoist: string; retryable: string }, string][] = [
      ["nothing to roll back", "rollback", { service: "kv" }, { code: "FAILED_PRECONDITION", hoist: "WRONG_STATE", retryable: "false" }, "nothing to roll back"],
      ["a bad version", "upgrade", { service: "kv", to: "../1.1.1" }, { code: "INVALID_ARGUMENT", hoist: "INVALID_ARGUMENT", retryable: "false" }, "to:"],
      ["an empty service name", "upgrade", { service: "", to: "1.1.1" }, { code: "INVALID_ARGUMENT", hoist: "INVALID_ARGUMENT", retryable: "false" }, "service"],
      ["a downgrade", "upgrade", { service: "kv", to: "1.0.0" }, { code: "FAILED_PRECONDITION", hoist: "DOWNGRADE_REFUSED", retryable: "false" }, "1.0.0"],
      ["an unknown service", "upgrade", { service: "web", to: "1.1.1" }, { code: "NOT_FOUND", hoist: "NOT_FOUND", retryable: "false" }, "web"],
      ["an unknown version", "upgrade", { service: "kv", to: "9.9.9" }, { code: "NOT_FOUND", hoist: "NOT_FOUND", retryable: "false" }, "9.9.9"],
      ["another cluster", "upgrade", { service: "kv", to: "1.1.1", cluster: "prod" }, { code: "PERMISSION_DENIED", hoist: "WRONG_CLUSTER", retryable: "false" }, "prod"],
    ];
    for (const [name, method, request, expected, inMessage] of cases) {
      const { messages, status } = await rawCall(agent, method, request);
      expect({ name, ...trailers(status) }).toMatchObject({ name, ...expected });
      expect(status.details).toContain(inMessage);
      expect(messages).toEqual([]);
    }
    // The typed client reads the trailer back into HoistError codes.
    await expect(agent.client.rollback("kv")).rejects.toMatchObject({ code: "WRONG_STATE", retryable: false, details: { grpcStatus: "FAILED_PRECONDITION" } });
    await expect(agent.client.upgrade({ service: "kv", to: "1.1.1/.." })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", details: { grpcStatus: "INVALID_ARGUMENT" } });

    const { kv } = await agent.kvInventory();
    expect(kv).toMatchObject({ activeVersion: "1.1.0", activity: "idle", health: "SERVING", lastUpgrade: { result: "committed", to: "1.1.0" } });
    expect((await agent.node.kv.version()).pid).toBe(pid);
  });
});

describe("mutual TLS on the real agent daemon", () => {
  let dir: string;
  let ca: TestCa;
  let serverCert: TestCert;
  let coordinatorCert: TestCert;
  let foreignCert: TestCert;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hoist-e2e-certs-"));
    ca = await makeCa(dir, "hoist-ca");
    const otherCa = await makeCa(dir, "other-ca");
    [serverCert, coordinatorCert, foreignCert] = await Promise.all([
      issueCert(ca, "server", { cn: "agent-node-1", dns: ["localhost"], ips: ["127.0.0.1"] }),
      issueCert(ca, "coordinator", { cn: "coordinator" }),
      issueCert(otherCa, "coordinator", { cn: "coordinator" }),
    ]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a client without a certificate or with one from another CA; an allowed coordinator gets the inventory and health", async () => {
    const agent = await startRealAgent({
      grpc: { listen: "127.0.0.1:0", tls: { cert: serverCert.certFile, key: serverCert.keyFile, clientCa: ca.certFile, allowClients: ["coordinator"] } },
      clientOptions: { caFile: ca.certFile, certFile: coordinatorCert.certFile, keyFile: coordinatorCert.keyFile, serverName: "localhost" },
    });
    const inventoryOf = (options: Parameters<RealAgent["newClient"]>[0]) =>
      agent
        .newClient({ serverName: "localhost", caFile: ca.certFile, ...options })
        .getInventory({ deadlineMs: 5000 })
        .then(
          (inventory) => inventory.node,
          (err: { code: string; details: { grpcStatus: string } }) => `${err.code}/${err.details.grpcStatus}`,
        );

    expect(await inventoryOf({})).toBe("UNAVAILABLE/UNAVAILABLE");
    expect(await inventoryOf({ certFile: foreignCert.certFile, keyFile: foreignCert.keyFile })).toBe("UNAVAILABLE/UNAVAILABLE");
    expect(await inventoryOf({ insecure: true, caFile: undefined, serverName: undefined })).toBe("UNAVAILABLE/UNAVAILABLE");
    expect(await inventoryOf({ certFile: coordinatorCert.certFile, keyFile: coordinatorCert.keyFile })).toBe("node-1");
    expect(await agent.client.check("")).toBe("SERVING");
    await expect(agent.newClient({ serverName: "localhost", caFile: ca.certFile }).check("")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
