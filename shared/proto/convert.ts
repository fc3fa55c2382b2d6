/**
 * Conversions between the plain objects of shared/proto/types.ts and the generated wire types.
 * `toWire*` builds request/response messages (the server side of inventory and results);
 * `fromWire*` turns decoded messages back into plain objects (the client side).
 * Timestamps travel as google.protobuf.Timestamp and come back as ISO-8601 strings (ms precision);
 * enums travel as prefixed proto names and come back as the lowercase domain names.
 */
import { HoistError } from "../errors/index.ts";
import type { Progress } from "../types/index.ts";
import type { Timestamp, Timestamp__Output } from "./generated/google/protobuf/Timestamp.ts";
import type { HostFacts as WireHostFacts, HostFacts__Output } from "./generated/hoist/agent/v1/HostFacts.ts";
import type { NodeInventory as WireNodeInventory, NodeInventory__Output } from "./generated/hoist/agent/v1/NodeInventory.ts";
import type { Progress as WireProgress, Progress__Output } from "./generated/hoist/agent/v1/Progress.ts";
import type { ReleaseOnDisk as WireReleaseOnDisk, ReleaseOnDisk__Output } from "./generated/hoist/agent/v1/ReleaseOnDisk.ts";
import type { ServiceInventory as WireServiceInventory, ServiceInventory__Output } from "./generated/hoist/agent/v1/ServiceInventory.ts";
import type { SnapshotSummary as WireSnapshotSummary, SnapshotSummary__Output } from "./generated/hoist/agent/v1/SnapshotSummary.ts";
import type { UpgradeOutcome as WireUpgradeOutcome, UpgradeOutcome__Output } from "./generated/hoist/agent/v1/UpgradeOutcome.ts";
import type { UpgradeRequest as WireUpgradeRequest } from "./generated/hoist/agent/v1/UpgradeRequest.ts";
import type { ServingStatus__Output as WireServingStatus } from "./generated/hoist/agent/v1/ServingStatus.ts";
import type { ServiceActivity__Output as WireServiceActivity } from "./generated/hoist/agent/v1/ServiceActivity.ts";
import type { UpgradeResult__Output as WireUpgradeResult } from "./generated/hoist/agent/v1/UpgradeResult.ts";
import type { Compression__Output as WireCompression } from "./generated/hoist/agent/v1/Compression.ts";
import type { HostFacts, NodeInventory, ReleaseOnDisk, ServiceActivity, ServiceInventory, ServingStatus, SnapshotSummary, UpgradeOutcome, UpgradeRequest } from "./types.ts";

const SERVING_STATUS: Record<ServingStatus, WireServingStatus> = {
  SERVING: "SERVING_STATUS_SERVING",
  NOT_SERVING: "SERVING_STATUS_NOT_SERVING",
  UNKNOWN: "SERVING_STATUS_UNKNOWN",
};

const ACTIVITY: Record<ServiceActivity, WireServiceActivity> = {
  idle: "SERVICE_ACTIVITY_IDLE",
  staging: "SERVICE_ACTIVITY_STAGING",
  draining: "SERVICE_ACTIVITY_DRAINING",
  drained: "SERVICE_ACTIVITY_DRAINED",
  stopped: "SERVICE_ACTIVITY_STOPPED",
  upgrading: "SERVICE_ACTIVITY_UPGRADING",
  "rolling-back": "SERVICE_ACTIVITY_ROLLING_BACK",
};

const RESULT: Record<UpgradeOutcome["result"], WireUpgradeResult> = {
  committed: "UPGRADE_RESULT_COMMITTED",
  "rolled-back": "UPGRADE_RESULT_ROLLED_BACK",
  aborted: "UPGRADE_RESULT_ABORTED",
  failed: "UPGRADE_RESULT_FAILED",
  noop: "UPGRADE_RESULT_NOOP",
};

const COMPRESSION: Record<SnapshotSummary["compression"], WireCompression> = {
  none: "COMPRESSION_NONE",
  gzip: "COMPRESSION_GZIP",
};

/** Reverse lookup; a value this build does not know (a newer agent) yields `fallback`. */
function reverse<D extends string, W extends string>(table: Record<D, W>, wire: W | number | undefined, fallback: D): D {
  for (const [domain, value] of Object.entries(table) as [D, W][]) if (value === wire) return domain;
  return fallback;
}

/** Drops keys whose value is undefined, so optional fields are absent rather than undefined. */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

/** Non-negative integer for uint fields (a fractional or negative value would fail to encode). */
function uint(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** ISO-8601 string to Timestamp. Throws INTERNAL for a string that is not a date (an agent bug). */
export function toTimestamp(iso: string): Timestamp {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new HoistError("INTERNAL", `not an ISO-8601 timestamp: ${JSON.stringify(iso)}`);
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Timestamp to ISO-8601 string (UTC, ms precision); absent means the epoch. */
export function fromTimestamp(timestamp: Timestamp__Output | null | undefined): string {
  if (!timestamp) return new Date(0).toISOString();
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000)).toISOString();
}

export function toWireProgress(progress: Progress): WireProgress {
  return compact({
    step: progress.step,
    message: progress.message,
    bytes: progress.bytes === undefined ? undefined : uint(progress.bytes),
    totalBytes: progress.totalBytes === undefined ? undefined : uint(progress.totalBytes),
    percent: progress.percent,
  });
}

export function fromWireProgress(wire: Progress__Output): Progress {
  return compact({ step: wire.step, message: wire.message, bytes: wire.bytes, totalBytes: wire.totalBytes, percent: wire.percent });
}

export function toWireRelease(release: ReleaseOnDisk): WireReleaseOnDisk {
  return compact({
    version: release.version,
    sha256: release.sha256,
    stagedAt: release.stagedAt === undefined ? undefined : toTimestamp(release.stagedAt),
    active: release.active,
  });
}

export function fromWireRelease(wire: ReleaseOnDisk__Output): ReleaseOnDisk {
  return compact({
    version: wire.version,
    sha256: wire.sha256,
    stagedAt: wire.stagedAt ? fromTimestamp(wire.stagedAt) : undefined,
    active: wire.active,
  });
}

export function toWireSnapshot(snapshot: SnapshotSummary): WireSnapshotSummary {
  return compact({
    id: snapshot.id,
    service: snapshot.service,
    createdAt: toTimestamp(snapshot.createdAt),
    version: snapshot.version,
    label: snapshot.label,
    bytes: uint(snapshot.bytes),
    files: uint(snapshot.files),
    compression: COMPRESSION[snapshot.compression],
  });
}

export function fromWireSnapshot(wire: SnapshotSummary__Output): SnapshotSummary {
  return compact({
    id: wire.id,
    service: wire.service,
    createdAt: fromTimestamp(wire.createdAt),
    version: wire.version,
    label: wire.label,
    bytes: wire.bytes,
    files: wire.files,
    compression: reverse(COMPRESSION, wire.compression, "none"),
  });
}

export function toWireOutcome(outcome: UpgradeOutcome): WireUpgradeOutcome {
  return compact({
    result: RESULT[outcome.result],
    service: outcome.service,
    from: outcome.from,
    to: outcome.to,
    active: outcome.active,
    hops: outcome.hops.map((hop) => ({ from: hop.from, to: hop.to })),
    error: outcome.error === undefined ? undefined : { code: outcome.error.code, message: outcome.error.message },
    startedAt: toTimestamp(outcome.startedAt),
    finishedAt: toTimestamp(outcome.finishedAt),
    snapshotId: outcome.snapshotId,
  });
}

/** An unknown result (from a newer agent) reads as "failed", so nobody treats it as success. */
export function fromWireOutcome(wire: UpgradeOutcome__Output): UpgradeOutcome {
  return compact({
    result: reverse(RESULT, wire.result, "failed"),
    service: wire.service,
    from: wire.from,
    to: wire.to,
    active: wire.active,
    hops: wire.hops.map((hop) => ({ from: hop.from, to: hop.to })),
    error: wire.error ? { code: wire.error.code, message: wire.error.message } : undefined,
    startedAt: fromTimestamp(wire.startedAt),
    finishedAt: fromTimestamp(wire.finishedAt),
    snapshotId: wire.snapshotId,
  });
}

export function toWireHostFacts(host: HostFacts): WireHostFacts {
  return {
    hostname: host.hostname,
    os: host.os,
    kernel: host.kernel,
    arch: host.arch,
    cpuModel: host.cpuModel,
    cpuCores: uint(host.cpuCores),
    memTotalBytes: uint(host.memTotalBytes),
    memFreeBytes: uint(host.memFreeBytes),
    uptimeSeconds: uint(host.uptimeSeconds),
    disks: host.disks.map((disk) => ({ path: disk.path, freeBytes: uint(disk.freeBytes), totalBytes: uint(disk.totalBytes) })),
    readAt: toTimestamp(host.readAt),
  };
}

export function fromWireHostFacts(wire: HostFacts__Output | null): HostFacts {
  return {
    hostname: wire?.hostname ?? "",
    os: wire?.os ?? "",
    kernel: wire?.kernel ?? "",
    arch: wire?.arch ?? "",
    cpuModel: wire?.cpuModel ?? "",
    cpuCores: wire?.cpuCores ?? 0,
    memTotalBytes: wire?.memTotalBytes ?? 0,
    memFreeBytes: wire?.memFreeBytes ?? 0,
    uptimeSeconds: wire?.uptimeSeconds ?? 0,
    disks: (wire?.disks ?? []).map((disk) => ({ path: disk.path, freeBytes: disk.freeBytes, totalBytes: disk.totalBytes })),
    readAt: fromTimestamp(wire?.readAt),
  };
}

export function toWireService(service: ServiceInventory): WireServiceInventory {
  return compact({
    name: service.name,
    activeVersion: service.activeVersion,
    activeSha256: service.activeSha256,
    releases: service.releases.map(toWireRelease),
    snapshots: service.snapshots.map(toWireSnapshot),
    lastUpgrade: service.lastUpgrade === undefined ? undefined : toWireOutcome(service.lastUpgrade),
    health: SERVING_STATUS[service.health],
    activity: ACTIVITY[service.activity],
  });
}

/** Unknown health reads as UNKNOWN; unknown activity (a newer agent) as "idle". */
export function fromWireService(wire: ServiceInventory__Output): ServiceInventory {
  return compact({
    name: wire.name,
    activeVersion: wire.activeVersion,
    activeSha256: wire.activeSha256,
    releases: wire.releases.map(fromWireRelease),
    snapshots: wire.snapshots.map(fromWireSnapshot),
    lastUpgrade: wire.lastUpgrade ? fromWireOutcome(wire.lastUpgrade) : undefined,
    health: reverse(SERVING_STATUS, wire.health, "UNKNOWN"),
    activity: reverse(ACTIVITY, wire.activity, "idle"),
  });
}

export function toWireInventory(inventory: NodeInventory): WireNodeInventory {
  return {
    node: inventory.node,
    cluster: inventory.cluster,
    agentVersion: inventory.agentVersion,
    services: inventory.services.map(toWireService),
    host: toWireHostFacts(inventory.host),
    grpcAddress: inventory.grpcAddress ?? "",
  };
}

export function fromWireInventory(wire: NodeInventory__Output): NodeInventory {
  return {
    node: wire.node,
    cluster: wire.cluster,
    agentVersion: wire.agentVersion,
    ...(wire.grpcAddress ? { grpcAddress: wire.grpcAddress } : {}),
    services: wire.services.map(fromWireService),
    host: fromWireHostFacts(wire.host),
  };
}

/** Builds the wire request of an upgrade; `cluster`, when given, makes other clusters' agents refuse. */
export function toWireUpgradeRequest(request: UpgradeRequest, cluster?: string): WireUpgradeRequest {
  return compact({
    service: request.service,
    to: request.to,
    allowDowngrade: request.allowDowngrade ?? false,
    key: request.key,
    skipDrain: request.skipDrain ?? false,
    artifact: request.artifact === undefined ? undefined : compact({ url: request.artifact.url, sha256: request.artifact.sha256, size: request.artifact.size }),
    cluster,
  });
}
