import { throwIfAborted } from "../../shared/errors/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { readSnapshotManifest, toSnapshotInfo, type SnapshotInfo } from "./manifest.ts";
import { snapshotDir } from "./paths.ts";
import { checkManifestTotals, readArchive } from "./read-archive.ts";
import { acquireSnapshotWorker, releaseSnapshotWorker } from "./worker-client.ts";

/**
 * Proves a snapshot is intact by reading it, not by trusting the manifest: each archive's size and
 * sha256 must match, and every archive entry must be the next manifest entry with the same path,
 * type, mode, size, sha256 (files) and target (symlinks), with nothing missing or extra.
 * Each archive is read once.
 *
 * Throws SNAPSHOT_CORRUPT naming the first mismatch, NOT_FOUND (no such snapshot),
 * INVALID_ARGUMENT (malformed id), CANCELLED/TIMEOUT. Reports progress as step "verify".
 */
export async function verifySnapshot(snapshotsDir: string, id: string, options: WorkOptions = {}): Promise<SnapshotInfo> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const manifest = await readSnapshotManifest(snapshotsDir, id);
  checkManifestTotals(manifest);
  const dir = snapshotDir(snapshotsDir, id);
  const worker = acquireSnapshotWorker();
  try {
    let before = 0;
    let lastPercent = -1;
    for (const dataDir of manifest.dataDirs) {
      await readArchive(worker, dir, dataDir, manifest.compression, {
        mode: "verify",
        signal,
        onBytes: (bytes) => {
          const done = before + bytes;
          const percent = manifest.bytes === 0 ? 100 : Math.floor((done / manifest.bytes) * 100);
          if (percent === lastPercent) return;
          lastPercent = percent;
          onProgress?.({ step: "verify", message: `verify ${dataDir.archive}`, bytes: done, totalBytes: manifest.bytes, percent });
        },
      });
      before += dataDir.entries.reduce((sum, entry) => sum + entry.size, 0);
    }
  } finally {
    await releaseSnapshotWorker(worker);
  }
  onProgress?.({ step: "verify", message: `snapshot ${id} verified`, bytes: manifest.bytes, totalBytes: manifest.bytes, percent: 100 });
  return toSnapshotInfo(manifest, dir);
}
