/**
 * The agent's data as plain objects, the way gRPC clients (coordinator, CLI) receive it.
 *
 * These have the same shapes as the types of agent/node-agent-api.ts, which coordinator code may
 * not import (agent/ and coordinator/ never import each other). test/grpc-types.test.ts fails to
 * type-check when the two drift apart. If the agent's types move to shared/, these become
 * re-exports.
 */

/** Health of one managed service as the agent sees it. */
export type ServingStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN";

/** What Hoist is doing with a service right now. */
export type ServiceActivity = "idle" | "staging" | "draining" | "drained" | "stopped" | "upgrading" | "rolling-back";

/** A release directory on disk. */
export interface ReleaseOnDisk {
  version: string;
  sha256?: string;
  stagedAt?: string;
  active: boolean;
}

/** One snapshot of a service's data dirs. */
export interface SnapshotSummary {
  id: string;
  service: string;
  createdAt: string;
  /** Active version when it was taken. */
  version?: string;
  label?: string;
  bytes: number;
  files: number;
  compression: "none" | "gzip";
}

/** How an upgrade or rollback ended. */
export interface UpgradeOutcome {
  /**
   * committed: on the target; rolled-back: failed after stop, data and release restored, running again;
   * aborted: failed before the service stopped, nothing changed; failed: the rollback itself failed or the
   * loop breaker stopped it (an operator must look); noop: already on the target.
   */
  result: "committed" | "rolled-back" | "aborted" | "failed" | "noop";
  service: string;
  from?: string;
  to: string;
  /** Version active when the operation ended. */
  active?: string;
  hops: { from: string; to: string }[];
  error?: { code: string; message: string };
  startedAt: string;
  finishedAt: string;
  snapshotId?: string;
}

/** Everything about one managed service on a node. */
export interface ServiceInventory {
  name: string;
  activeVersion?: string;
  activeSha256?: string;
  releases: ReleaseOnDisk[];
  snapshots: SnapshotSummary[];
  lastUpgrade?: UpgradeOutcome;
  health: ServingStatus;
  activity: ServiceActivity;
}

/** Facts about a node's host. */
export interface HostFacts {
  hostname: string;
  os: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cpuCores: number;
  memTotalBytes: number;
  memFreeBytes: number;
  uptimeSeconds: number;
  /** Free bytes on the filesystem of each install root and data dir. */
  disks: { path: string; freeBytes: number; totalBytes: number }[];
  /** When these facts were read. */
  readAt: string;
}

/** Everything an agent knows about its node. */
export interface NodeInventory {
  node: string;
  cluster: string;
  agentVersion: string;
  services: ServiceInventory[];
  host: HostFacts;
}

/** What to upgrade, and how. */
export interface UpgradeRequest {
  service: string;
  to: string;
  allowDowngrade?: boolean;
  /** Idempotency key: a repeat with the same key returns the recorded outcome. */
  key?: string;
  /** Skip drain/rejoin hooks (the coordinator runs them as separate steps). */
  skipDrain?: boolean;
  /** Artifact given directly instead of looked up in the catalog (single direct hop, no migrations). */
  artifact?: { url: string; sha256: string; size?: number };
}

/**
 * A status of grpc.health.v1. SERVICE_UNKNOWN is only sent by Watch, for a name the agent does not
 * know (yet).
 */
export type HealthStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN";
