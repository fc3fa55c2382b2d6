import type { WorkOptions } from "../../shared/types/index.ts";
import type { ServiceConfig } from "../config.ts";
import { attachBackups, createSnapshot, takeBackups, verifyBackups, verifySnapshot, type BackupContext, type CreateSnapshotInput, type TwoPhaseSnapshot } from "../snapshot/index.ts";
import type { SnapshotInfo } from "../snapshot/manifest.ts";
import { publishSnapshotTaken } from "../metrics/channels.ts";

export interface TakeSnapshotInput {
  service: ServiceConfig;
  snapshotsDir: string;
  /** The version whose data it is (undefined on a fresh install: no backup commands then). */
  version: string | undefined;
  label: string;
  /** How each backup command and database tool runs (cwd, env, tracker, user). */
  backupContext: BackupContext;
  /** The first phase of a two-phase snapshot taken while the service ran: finished here instead of a full snapshot. */
  firstPhase?: TwoPhaseSnapshot;
}

/** What createSnapshot (or a two-phase snapshot) gets for a service's data dirs. */
export function snapshotInputFor(service: ServiceConfig, snapshotsDir: string, version: string | undefined, label: string): CreateSnapshotInput {
  return { service: service.name, dataDirs: [...service.dataDirs], snapshotsDir, compression: service.snapshots.compression, ...(version === undefined ? {} : { version }), label };
}

/**
 * One verified snapshot of a service: runs its backup commands first (the service must still run
 * for them) and dumps its databases, archives every data dir, keeps the backups and dumps inside the
 * snapshot, then verifies the archives against the manifest and the backups and dumps against their
 * sha256 (and each dump's readability by its engine's tools). Upgrades, `hoist snapshot
 * create` and a drain with `snapshots.before: drain` all take theirs this way. With a `firstPhase`
 * the data dirs are the second phase of a two-phase snapshot, which verifies the copy taken while
 * the service ran before the stop and what it adds after (so nothing is read twice in the downtime).
 * @throws HoistError HOOK_FAILED (a backup command or database tool), SNAPSHOT_CORRUPT, DISK_FULL, CANCELLED.
 */
export async function takeVerifiedSnapshot(input: TakeSnapshotInput, options: WorkOptions = {}): Promise<SnapshotInfo> {
  const { service } = input;
  const began = performance.now();
  const hasExtras = service.backups.length + service.databases.length > 0;
  const backups = !hasExtras || input.version === undefined ? undefined : await takeBackups(service, input.snapshotsDir, input.backupContext);
  const info = input.firstPhase !== undefined ? await input.firstPhase.finish(options) : await createSnapshot(snapshotInputFor(service, input.snapshotsDir, input.version, input.label), options);
  if (backups) await attachBackups(input.snapshotsDir, info.id, backups);
  options.onProgress?.({ step: "snapshot", message: `verifying snapshot ${info.id}${backups ? ` and its ${backups.records.length} backup(s) and database dump(s)` : ""}` });
  if (input.firstPhase === undefined) await verifySnapshot(input.snapshotsDir, info.id, options.signal ? { signal: options.signal } : {});
  await verifyBackups(input.snapshotsDir, info.id, options.signal ? { signal: options.signal } : {});
  publishSnapshotTaken({ snapshotsDir: input.snapshotsDir, service: service.name, bytes: info.bytes, archiveBytes: info.archiveBytes, seconds: (performance.now() - began) / 1000 });
  return info;
}
