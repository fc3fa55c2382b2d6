import * as z from "zod";

/**
 * Validators for the inventory every agent publishes (KV `hoist_inventory`, key `CLUSTER.NODE`), used
 * where the coordinator reads it off the wire. The types are the one definition in shared/types
 * (agent-api.ts); test/plan-build.test.ts checks these schemas' output is exactly those types.
 * Unknown fields are dropped rather than refused, so an older coordinator reads a newer agent.
 */

/** Health of one managed service as the agent sees it (drives grpc.health.v1). */
export const servingStatusSchema = z.enum(["SERVING", "NOT_SERVING", "UNKNOWN"]);

/** What Hoist itself is doing to the service right now; anything but `idle` means busy. */
export const serviceActivitySchema = z.enum(["idle", "staging", "draining", "drained", "stopped", "upgrading", "rolling-back"]);

export const releaseOnDiskSchema = z.object({
  version: z.string().min(1),
  sha256: z.string().optional(),
  stagedAt: z.string().optional(),
  active: z.boolean(),
});

export const snapshotSummarySchema = z.object({
  id: z.string().min(1),
  service: z.string().min(1),
  createdAt: z.string(),
  version: z.string().optional(),
  label: z.string().optional(),
  bytes: z.number().nonnegative(),
  files: z.number().int().nonnegative(),
  compression: z.enum(["none", "gzip"]),
});

export const upgradeOutcomeSchema = z.object({
  /** committed; rolled-back (failed after stop, restored, running again); aborted (failed before stop, nothing changed); failed (an operator must look); noop. */
  result: z.enum(["committed", "rolled-back", "aborted", "failed", "noop"]),
  service: z.string(),
  from: z.string().optional(),
  to: z.string(),
  active: z.string().optional(),
  hops: z.array(z.object({ from: z.string(), to: z.string() })),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
  snapshotId: z.string().optional(),
});

export const serviceInventorySchema = z.object({
  name: z.string().min(1),
  activeVersion: z.string().optional(),
  activeSha256: z.string().optional(),
  releases: z.array(releaseOnDiskSchema),
  snapshots: z.array(snapshotSummarySchema),
  lastUpgrade: upgradeOutcomeSchema.optional(),
  health: servingStatusSchema,
  activity: serviceActivitySchema,
});

export const diskFactsSchema = z.object({
  path: z.string().min(1),
  freeBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative(),
});

export const hostFactsSchema = z.object({
  hostname: z.string(),
  os: z.string(),
  kernel: z.string(),
  arch: z.string(),
  cpuModel: z.string(),
  cpuCores: z.number().int().nonnegative(),
  memTotalBytes: z.number().nonnegative(),
  memFreeBytes: z.number().nonnegative(),
  uptimeSeconds: z.number().nonnegative(),
  /** Free bytes on the filesystem of each install root and data dir. */
  disks: z.array(diskFactsSchema),
  /** When these facts were read (ISO time; cached and refreshed in the background). */
  readAt: z.string(),
});

export const nodeInventorySchema = z.object({
  node: z.string().min(1),
  cluster: z.string().min(1),
  agentVersion: z.string(),
  /** host:port of the agent's gRPC server, when it runs one. */
  grpcAddress: z.string().optional(),
  services: z.array(serviceInventorySchema),
  host: hostFactsSchema,
});
