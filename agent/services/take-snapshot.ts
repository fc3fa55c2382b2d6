import type { WorkOptions } from "../../shared/types/index.ts";
import type { HookContext } from "../exec/index.ts";
import type { ServiceConfig } from "../config.ts";
import { attachBackups, createSnapshot, takeBackups, verifyBackups, verifySnapshot, type BackupSpec } from "../snapshot/index.ts";
import type { SnapshotInfo } from "../snapshot/manifest.ts";

export interface TakeSnapshotInput {
  service: ServiceConfig;
  snapshotsDir: string;
  /** The version whose data it is (undefined on a fresh install: no backup commands then). */
  version: string | undefined;
  label: string;
  /** How each backup command runs (cwd, env, tracker, user). */
  backupContext: (spec: BackupSpec) => HookContext;
}

/**
 * One verified snapshot of a service: runs its backup commands first (the service must still run
 * for them), archives every data dir, keeps the backups inside the snapshot, then verifies the
 * archives against the manifest and the backups against their sha256. Upgrades, `hoist snapshot
 * create` and a drain with `snapshots.before: drain` all take theirs this way.
 * @throws HoistError HOOK_FAILED (a backup command), SNAPSHOT_CORRUPT, DISK_FULL, CANCELLED.
 */
export async function takeVerifiedSnapshot(input: TakeSnapshotInput, options: WorkOptions = {}): Promise<SnapshotInfo> {
  const { service } = input;
  const backups = service.backups.length === 0 || input.version === undefined ? undefined : await takeBackups(service.backups, input.snapshotsDir, input.backupContext);
  const info = await createSnapshot(
    {
      service: service.name,
      dataDirs: [...service.dataDirs],
      snapshotsDir: input.snapshotsDir,
      compression: service.snapshots.compression,
      ...(input.version === undefined ? {} : { version: input.version }),
      label: input.label,
    },
    options,
  );
  if (backups) await attachBackups(input.snapshotsDir, info.id, backups);
  options.onProgress?.({ step: "snapshot", message: `verifying snapshot ${info.id}${backups ? ` and its ${backups.records.length} backup(s)` : ""}` });
  await verifySnapshot(input.snapshotsDir, info.id, options.signal ? { signal: options.signal } : {});
  await verifyBackups(input.snapshotsDir, info.id);
  return info;
}
