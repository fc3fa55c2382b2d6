import { listReleases, readCurrentVersion, readReleaseMeta } from "../release/index.ts";
import { listSnapshots } from "../snapshot/index.ts";
import type { ServiceActivity, ServiceInventory, ServingStatus } from "../node-agent-api.ts";
import { probesFor } from "../config.ts";
import { checkProbe } from "../health/index.ts";
import { activityOf, type ManagedService } from "./managed-service.ts";
import { toSnapshotSummary } from "./snapshot-summary.ts";

/**
 * What one service looks like on disk now: active release and its sha256, releases, snapshots, the
 * last outcome, health and activity. An owner knows its activity; a reader (`owned` false) reads it
 * from the journal the owner keeps.
 */
export async function readServiceInventory(managed: ManagedService, owned: boolean): Promise<ServiceInventory> {
  const { installRoot } = managed.config;
  const [active, releases, snapshots, lastUpgrade, activity] = await Promise.all([
    readCurrentVersion(installRoot),
    listReleases(installRoot),
    listSnapshots(managed.paths.snapshots, managed.config.name),
    managed.store.lastOutcome(),
    owned ? Promise.resolve(managed.activity) : activityOnDisk(managed),
  ]);
  const activeMeta = active === undefined ? undefined : await readReleaseMeta(installRoot, active).catch(() => undefined);
  return {
    name: managed.config.name,
    ...(active === undefined ? {} : { activeVersion: active }),
    ...(activeMeta?.sha256 === undefined ? {} : { activeSha256: activeMeta.sha256 }),
    releases: releases.map((release) => ({
      version: release.version,
      ...(release.sha256 === undefined ? {} : { sha256: release.sha256 }),
      ...(release.stagedAt === undefined ? {} : { stagedAt: release.stagedAt }),
      active: release.active,
    })),
    snapshots: snapshots.map(toSnapshotSummary),
    ...(lastUpgrade === undefined ? {} : { lastUpgrade }),
    health: managed.monitor?.status ?? (owned ? "UNKNOWN" : await probeOnce(managed, active)),
    activity,
  };
}

/**
 * A reader's one look at health (it has no monitor): the `monitor` probes that need no child process
 * (http, tcp), checked once. Command probes are left to the owner; none of the others: UNKNOWN.
 */
async function probeOnce(managed: ManagedService, active: string | undefined): Promise<ServingStatus> {
  const probes = probesFor(managed.config, "monitor").filter((probe) => probe.type === "http" || probe.type === "tcp");
  if (active === undefined || probes.length === 0) return "UNKNOWN";
  const results = await Promise.all(probes.map((probe) => checkProbe(probe, { cwd: managed.config.installRoot, env: {} })));
  return results.every((result) => result.healthy) ? "SERVING" : "NOT_SERVING";
}

/** What a reader sees of the owner's work: the activity its journal names. */
async function activityOnDisk(managed: ManagedService): Promise<ServiceActivity> {
  const journal = await managed.store.load();
  if (!journal) return "idle";
  return journal.halted ? "stopped" : activityOf(journal.step);
}
