import { rm } from "node:fs/promises";
import { join } from "node:path";
import { readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";
import type { ServicePaths } from "./service-paths.ts";

/** The snapshot a drain took (`snapshots.before: drain`) for the upgrade that follows it. */
interface DrainSnapshot {
  snapshotId: string;
  /** The version that ran when it was taken: the upgrade uses it only when it starts from there. */
  version: string;
  takenAt: string;
}

function path(paths: ServicePaths): string {
  return join(paths.root, "drain-snapshot.json");
}

/** Records the snapshot taken before a drain (temp + fsync + rename). */
export async function recordDrainSnapshot(paths: ServicePaths, snapshotId: string, version: string): Promise<void> {
  await writeJsonAtomic(path(paths), { snapshotId, version, takenAt: new Date().toISOString() } satisfies DrainSnapshot);
}

/**
 * The snapshot the last drain took of `version`, if any. The record stays until the operation that
 * used it ends or the node rejoins (`clearDrainSnapshot`), so a resumed upgrade finds it again.
 */
export async function takeDrainSnapshot(paths: ServicePaths, version: string): Promise<string | undefined> {
  const recorded = await readJsonIfExists<DrainSnapshot>(path(paths));
  return recorded?.version === version ? recorded.snapshotId : undefined;
}

/** Forgets the drain's snapshot: the node rejoined, or the upgrade that used it is over. */
export async function clearDrainSnapshot(paths: ServicePaths): Promise<void> {
  await rm(path(paths), { force: true });
}
