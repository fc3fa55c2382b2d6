import { readdir } from "node:fs/promises";
import { isSnapshotId } from "./ids.ts";
import { readSnapshotManifest, toSnapshotInfo, type SnapshotInfo } from "./manifest.ts";
import { snapshotDir } from "./paths.ts";

/**
 * Snapshots in `snapshotsDir`, newest first, optionally of one service only. `.partial` dirs
 * (being written, or left by a crash) are never listed; neither are dirs whose manifest cannot be
 * read (they cannot be restored; `verifySnapshot` on the id says why). A missing dir lists nothing.
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
    const manifest = await readSnapshotManifest(snapshotsDir, id).catch(() => undefined);
    if (manifest === undefined) continue;
    if (service !== undefined && manifest.service !== service) continue;
    infos.push(toSnapshotInfo(manifest, snapshotDir(snapshotsDir, id)));
  }
  return infos;
}
