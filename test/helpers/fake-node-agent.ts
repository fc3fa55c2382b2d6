import type { NodeAgentApi, NodeInventory, ReleaseOnDisk, ServingStatus, SnapshotSummary, UpgradeOutcome, UpgradeRequest } from "../../agent/node-agent-api.ts";
import { HoistError } from "../../shared/errors/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";

/** A recorded call: method name, arguments, and the options (signal) the caller passed. */
export interface FakeCall {
  method: string;
  args: unknown[];
  options?: WorkOptions;
}

export const SHA = "3f2a9c1d0b4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff";

/** A small inventory: one service "web" on 1.1.0 with two releases, a snapshot and a committed upgrade. */
export function sampleInventory(): NodeInventory {
  const snapshot: SnapshotSummary = {
    id: "20240101T000000Z-web",
    service: "web",
    createdAt: "2024-01-01T00:00:00.000Z",
    version: "1.0.0",
    label: "before 1.1.0",
    bytes: 5_000_000_000,
    files: 12,
    compression: "none",
  };
  return {
    node: "node-1",
    cluster: "test",
    agentVersion: "0.1.0",
    services: [
      {
        name: "web",
        activeVersion: "1.1.0",
        activeSha256: SHA,
        releases: [
          { version: "1.0.0", sha256: "a".repeat(64), stagedAt: "2023-12-31T23:00:00.000Z", active: false },
          { version: "1.1.0", sha256: SHA, active: true },
        ],
        snapshots: [snapshot],
        lastUpgrade: {
          result: "committed",
          service: "web",
          from: "1.0.0",
          to: "1.1.0",
          active: "1.1.0",
          hops: [{ from: "1.0.0", to: "1.1.0" }],
          startedAt: "2024-01-01T00:00:00.000Z",
          finishedAt: "2024-01-01T00:01:30.250Z",
          snapshotId: snapshot.id,
        },
        health: "SERVING",
        activity: "idle",
      },
      { name: "db", releases: [], snapshots: [], health: "UNKNOWN", activity: "stopped" },
    ],
    host: {
      hostname: "host-1",
      os: "Debian GNU/Linux 12",
      kernel: "6.1.0",
      arch: "x64",
      cpuModel: "Test CPU",
      cpuCores: 4,
      memTotalBytes: 8 * 1024 ** 3,
      memFreeBytes: 3 * 1024 ** 3,
      uptimeSeconds: 93_784,
      disks: [{ path: "/srv/web", freeBytes: 10 * 1024 ** 3, totalBytes: 50 * 1024 ** 3 }],
      readAt: "2024-01-02T03:04:05.678Z",
    },
  };
}

/** Waits until the signal aborts, then throws what the real agent would (TIMEOUT or CANCELLED). */
export function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => {
      const reason: unknown = signal?.reason;
      if (reason instanceof HoistError) reject(reason);
      else if (reason instanceof Error && reason.name === "TimeoutError") reject(new HoistError("TIMEOUT", "the operation timed out", { cause: reason }));
      else reject(new HoistError("CANCELLED", "the operation was cancelled", { cause: reason }));
    };
    if (signal?.aborted) fail();
    else signal?.addEventListener("abort", fail, { once: true });
  });
}

/**
 * A minimal in-memory NodeAgentApi for gRPC tests. Every call is recorded in `calls`. Default
 * behaviour: upgrade reports three progress steps and commits; other operations succeed at once.
 * Tests replace any method through `overrides`, and flip health with setHealth().
 */
export class FakeNodeAgent implements NodeAgentApi {
  readonly node = "node-1";
  readonly cluster = "test";
  readonly calls: FakeCall[] = [];
  overrides: Partial<Omit<NodeAgentApi, "node" | "cluster">> = {};
  inventoryValue: NodeInventory = sampleInventory();
  private readonly statuses = new Map<string, ServingStatus>([
    ["web", "SERVING"],
    ["db", "UNKNOWN"],
  ]);
  private readonly listeners = new Set<(service: string, status: ServingStatus) => void>();

  /** Changes a service's health and tells subscribers, as the real health monitor does. */
  setHealth(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const listener of this.listeners) listener(service, status);
  }

  /** Last options (with the signal) an operation received. */
  lastOptions(method: string): WorkOptions | undefined {
    return this.calls.filter((call) => call.method === method).at(-1)?.options;
  }

  private record(method: string, args: unknown[], options?: WorkOptions): void {
    this.calls.push({ method, args, options });
  }

  async inventory(): Promise<NodeInventory> {
    this.record("inventory", []);
    return this.overrides.inventory ? this.overrides.inventory() : structuredClone(this.inventoryValue);
  }

  async stage(service: string, version: string, options?: WorkOptions): Promise<ReleaseOnDisk> {
    this.record("stage", [service, version], options);
    if (this.overrides.stage) return this.overrides.stage(service, version, options);
    options?.onProgress?.({ step: "stage", message: "fetching", bytes: 10, totalBytes: 20, percent: 50 });
    return { version, sha256: SHA, stagedAt: "2024-02-01T00:00:00.000Z", active: false };
  }

  async snapshot(service: string, options?: WorkOptions & { label?: string }): Promise<SnapshotSummary> {
    this.record("snapshot", [service], options);
    if (this.overrides.snapshot) return this.overrides.snapshot(service, options);
    return { ...this.inventoryValue.services[0]!.snapshots[0]!, id: "new", label: options?.label };
  }

  async listSnapshots(service: string): Promise<SnapshotSummary[]> {
    this.record("listSnapshots", [service]);
    if (this.overrides.listSnapshots) return this.overrides.listSnapshots(service);
    return this.inventoryValue.services.find((item) => item.name === service)?.snapshots ?? [];
  }

  async restore(service: string, snapshotId: string, options?: WorkOptions): Promise<void> {
    this.record("restore", [service, snapshotId], options);
    if (this.overrides.restore) return this.overrides.restore(service, snapshotId, options);
  }

  async upgrade(request: UpgradeRequest, options?: WorkOptions): Promise<UpgradeOutcome> {
    this.record("upgrade", [request], options);
    if (this.overrides.upgrade) return this.overrides.upgrade(request, options);
    for (const step of ["stage", "snapshot", "switch"]) options?.onProgress?.({ step, message: `${step} done` });
    return {
      result: "committed",
      service: request.service,
      from: "1.1.0",
      to: request.to,
      active: request.to,
      hops: [{ from: "1.1.0", to: request.to }],
      startedAt: "2024-03-01T00:00:00.000Z",
      finishedAt: "2024-03-01T00:00:05.000Z",
    };
  }

  async rollback(service: string, options?: WorkOptions & { key?: string }): Promise<UpgradeOutcome> {
    this.record("rollback", [service], options);
    if (this.overrides.rollback) return this.overrides.rollback(service, options);
    throw new HoistError("WRONG_STATE", `nothing to roll back for ${service}: no upgrade recorded`);
  }

  async drain(service: string, options?: WorkOptions): Promise<void> {
    this.record("drain", [service], options);
    if (this.overrides.drain) return this.overrides.drain(service, options);
  }

  async rejoin(service: string, options?: WorkOptions): Promise<void> {
    this.record("rejoin", [service], options);
    if (this.overrides.rejoin) return this.overrides.rejoin(service, options);
  }

  health(service: string): ServingStatus {
    return this.statuses.get(service) ?? "UNKNOWN";
  }

  onHealthChange(listener: (service: string, status: ServingStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
