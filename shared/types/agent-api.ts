/**
 * The agent's data as plain objects: what its API returns, what gRPC carries and the coordinator
 * reads from inventory. Shared so that agent/, coordinator/ and shared/proto use one definition.
 */
/** Health of one managed service as the agent sees it (drives grpc.health.v1). */
export type ServingStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN";

/** Why a service is not serving right now, when Hoist itself took it out. */
export type ServiceActivity = "idle" | "staging" | "draining" | "drained" | "stopped" | "upgrading" | "rolling-back";

export interface ReleaseOnDisk {
  version: string;
  sha256?: string;
  stagedAt?: string;
  active: boolean;
}

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
  /** When these facts were read (they are cached and refreshed in the background). */
  readAt: string;
}

export interface NodeInventory {
  node: string;
  cluster: string;
  agentVersion: string;
  /** host:port of the agent's gRPC server, when it runs one. */
  grpcAddress?: string;
  services: ServiceInventory[];
  host: HostFacts;
}

/** An upgrade as the agent's API takes it; the shape is upgradeRequestSchema (shared/wire). */
export type { UpgradeRequest } from "../wire/index.ts";
