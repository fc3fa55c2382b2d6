import { readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { HoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import { removeTree } from "./fs-ops.ts";
import { isInProgress } from "./in-progress.ts";
import { listSnapshots } from "./list.ts";
import { partialSnapshotDir, PARTIAL_SUFFIX, snapshotDir } from "./paths.ts";

export interface PruneOptions {
  /** Only this service's snapshots count and are removed (for a snapshots dir shared by services). */
  service?: string;
}

/**
 * Keeps the newest `keep` snapshots plus the `protect`ed ids and removes the others, and removes
 * `.partial` leftovers of crashed creates (not the ones this process is writing). Returns the
 * removed snapshot ids, newest first. A snapshot is first renamed to `ID.partial` (so it vanishes
 * from lists at once, even if the removal is interrupted), then deleted.
 * Dirs that are not snapshots, or whose manifest is unreadable, are left alone.
 *
 * Throws INVALID_ARGUMENT when keep is not a non-negative integer.
 */
export async function pruneSnapshots(snapshotsDir: string, keep: number, protect: string[] = [], options: PruneOptions = {}): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 0) throw new HoistError("INVALID_ARGUMENT", `keep must be a whole number >= 0, got ${keep}`);
  const snapshots = await listSnapshots(snapshotsDir, options.service);
  const kept = new Set([...snapshots.slice(0, keep).map((info) => info.id), ...protect]);
  const removed: string[] = [];
  for (const info of snapshots) {
    if (kept.has(info.id)) continue;
    const partial = partialSnapshotDir(snapshotsDir, info.id);
    await rename(snapshotDir(snapshotsDir, info.id), partial);
    await fsyncDir(snapshotsDir);
    await removeTree(partial);
    removed.push(info.id);
  }
  const names = await readdir(snapshotsDir).catch(() => [] as string[]);
  for (const name of names) {
    const path = join(snapshotsDir, name);
    if (name.endsWith(PARTIAL_SUFFIX) && !isInProgress(path)) await removeTree(path);
  }
  return removed;
}
