import { readdir } from "node:fs/promises";
import { isSnapshotId } from "./ids.ts";
import { readSnapshotInfo, type SnapshotInfo } from "./manifest.ts";

/**
 * Snapshots in `snapshotsDir`, newest first, optionally of one service only. `.partial` dirs
 * (being written, or left by a crash) are never listed; neither are dirs with neither a readable
 * summary nor manifest (they cannot be restored; `verifySnapshot` on the id says why). Reads each
 * snapshot's small `summary.json`, so listing stays cheap with large manifests; it does not check
 * the snapshots. A missing dir lists nothing.
 */
export async function listSnapshots(snapshotsDir: string, service?: string): Promise<SnapshotInfo[]> {
  let names: string[];
  try {
    names = await readdir(snapshotsDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const ids = names.filter(isSnapshotId).sort().reverse();
  const infos: SnapshotInfo[] = [];
  for (const id of ids) {
    const info = await readSnapshotInfo(snapshotsDir, id).catch(() => undefined);
    if (info === undefined) continue;
    if (service !== undefined && info.service !== service) continue;
    infos.push(info);
  }
  return infos;
}
