/**
 * Snapshots of a service's data dirs: create, verify, restore, list, prune.
 * Layout: `snapshotsDir/ID/{manifest.json, data-0.tar[.gz], data-1.tar[.gz], ...}`; see create.ts
 * for what a snapshot keeps and restore.ts for how it is put back.
 */
export { createSnapshot, type CreateSnapshotInput } from "./create.ts";
export { TwoPhaseSnapshot } from "./two-phase.ts";
export { GZIP_LEVEL } from "./write-archive.ts";
export { verifySnapshot } from "./verify.ts";
export { restoreSnapshot } from "./restore.ts";
export { listSnapshots } from "./list.ts";
export { pruneSnapshots, type PruneOptions } from "./prune.ts";
export { isSnapshotId } from "./ids.ts";
export { prepareSnapshotWorker } from "./worker-client.ts";
export { readSnapshotManifest, readSnapshotInfo, SNAPSHOT_FORMAT_VERSION, type SnapshotManifest, type SnapshotDataDir, type SnapshotEntry, type SnapshotCompression, type SnapshotInfo } from "./manifest.ts";
export { takeBackups, attachBackups, readBackups, verifyBackups, restoreBackups, databaseFile, type BackupSpec, type BackupRecord, type BackupContext, type SnapshotExtras } from "./backups.ts";
