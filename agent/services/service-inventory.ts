// The files themselves, not the folders' index.ts: esbuild's code splitting follows every file a
// barrel re-exports, so through index.ts `hoist status` would load the upgrade runner, tar and zlib.
import { listReleases, readReleaseMeta } from "../release/store.ts";
import { metaDir, releasesDir } from "../release/layout.ts";
import { readCurrentVersion } from "../release/switch-current.ts";
import { listSnapshots } from "../snapshot/list.ts";
import type { ServiceActivity, ServiceInventory, ServingStatus } from "../node-agent-api.ts";
import { probesFor, type ServiceConfig } from "../config.ts";
import { checkProbe } from "../health/probes.ts";
import type { JournalStore } from "../upgrade/index.ts";
import { activityOf, type ManagedService } from "./managed-service.ts";
import { InventoryCache } from "./inventory-cache.ts";
import type { ServicePaths } from "./service-paths.ts";
import { toSnapshotSummary } from "./snapshot-summary.ts";

/** The part of a service's inventory that is read from disk (health and activity are the agent's own). */
export type DiskInventory = Pick<ServiceInventory, "activeVersion" | "activeSha256" | "releases" | "snapshots" | "lastUpgrade">;

/**
 * The cache of a service's disk inventory. Its dirs are the ones every change of it renames an
 * entry in: the install root (`current`), releases/ and releases/.hoist (stage, prune), the
 * snapshots dir (create, prune) and the service's state dir (journal, last result).
 */
export function diskInventoryCache(service: ServiceConfig, paths: ServicePaths, store: JournalStore): InventoryCache<DiskInventory> {
  const { installRoot } = service;
  return new InventoryCache({
    read: () => readDiskInventory(service, paths, store),
    dirs: [installRoot, releasesDir(installRoot), metaDir(installRoot), paths.snapshots, paths.root],
  });
}

/** Reads the active release and its sha256, the releases, the snapshots and the last outcome from disk. */
async function readDiskInventory(service: ServiceConfig, paths: ServicePaths, store: JournalStore): Promise<DiskInventory> {
  const { installRoot } = service;
  const [active, releases, snapshots, lastUpgrade] = await Promise.all([readCurrentVersion(installRoot), listReleases(installRoot), listSnapshots(paths.snapshots, service.name), store.lastOutcome()]);
  const activeMeta = active === undefined ? undefined : await readReleaseMeta(installRoot, active).catch(() => undefined);
  return {
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
  };
}

/**
 * What one service looks like now: active release and its sha256, releases, snapshots, the last
 * outcome (from the service's disk inventory cache), health and activity. An owner knows its
 * activity; a reader (`owned` false) reads it from the journal the owner keeps.
 */
export async function readServiceInventory(managed: ManagedService, owned: boolean): Promise<ServiceInventory> {
  const [disk, activity] = await Promise.all([managed.inventory.get(), owned ? Promise.resolve(managed.activity) : activityOnDisk(managed)]);
  return {
    name: managed.config.name,
    ...disk,
    health: managed.monitor?.status ?? (owned ? "UNKNOWN" : await probeOnce(managed, disk.activeVersion)),
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
