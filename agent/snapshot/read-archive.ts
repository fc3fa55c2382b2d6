import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { HoistError } from "../../shared/errors/index.ts";
import type { SnapshotCompression, SnapshotDataDir, SnapshotManifest } from "./manifest.ts";
import type { ChunkFeeder, SnapshotWorker } from "./worker-client.ts";
import { FileHashes } from "./file-hashes.ts";
import { checksHere } from "./unpack.ts";

export interface ReadArchiveOptions {
  mode: "verify" | "extract";
  /** Extract mode: the dir to create and fill. */
  target?: string;
  chown?: boolean;
  /** Content bytes of this archive checked so far. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
  /**
   * Plain tar only: read from this archive offset (an entry's first header byte) to the end, and
   * check it against `dataDir.entries` (then only the entries from there on). The delta of a
   * two-phase snapshot is verified this way.
   */
  from?: number;
}

/**
 * Streams one archive of a snapshot through the worker, which checks every entry against the
 * manifest (verify) or writes it (extract) and the sha256 of every other file of 4 KiB or more
 * (checksHere); it hands the other files' content back as segments of the same shared chunks,
 * which this thread hashes (it does not
 * parse the archive again; it also hashes a format-1 archive whole).
 * Reads the archive once. Throws SNAPSHOT_CORRUPT naming the first difference: archive size, an
 * entry (path, type, mode, size, sha256, target), the tar structure or padding, the gzip stream,
 * or (format 1) the archive's sha256.
 */
export async function readArchive(worker: SnapshotWorker, dir: string, dataDir: SnapshotDataDir, compression: SnapshotCompression, options: ReadArchiveOptions): Promise<void> {
  const path = join(dir, dataDir.archive);
  const corrupt = (message: string, cause?: unknown) =>
    new HoistError("SNAPSHOT_CORRUPT", `snapshot archive ${dataDir.archive}: ${message}; the snapshot cannot be trusted`, {
      details: { archive: dataDir.archive, dataDir: dataDir.path },
      cause,
    });
  const expectedGz = compression === "gzip";
  if (dataDir.archive.endsWith(".gz") !== expectedGz) throw corrupt(`name does not match the compression ${compression}`);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw corrupt(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  if (size !== dataDir.archiveBytes) throw corrupt(`is ${size} bytes but the manifest says ${dataDir.archiveBytes}`);

  // Format 1 recorded the sha256 of the whole archive; format 2 checks every header, the padding and every file's sha256 instead.
  const hash = dataDir.archiveSha256 === undefined ? undefined : createHash("sha256");
  if (options.from !== undefined && (hash !== undefined || expectedGz)) throw new HoistError("INTERNAL", "a partial read needs a plain format-2 archive");
  // The threads share the sha256 checks (extracting, the worker also writes): the worker parses and checks every other file of 4 KiB or more (checksHere), this thread hashes what it is handed.
  const handedOff = new FileHashes();
  const feed = async (feeder: ChunkFeeder) => {
    if (!expectedGz) {
      const handle = await open(path, "r");
      let position = options.from ?? 0;
      try {
        for (;;) {
          const { slot, view } = await feeder.acquire();
          const { bytesRead } = await handle.read(view, 0, view.length, position);
          position += bytesRead;
          const chunk = view.subarray(0, bytesRead);
          hash?.update(chunk);
          feeder.send(slot, bytesRead);
          if (bytesRead === 0) break;
        }
      } finally {
        await handle.close();
      }
      return;
    }
    try {
      await pipeline(
        createReadStream(path, { highWaterMark: 1024 * 1024 }),
        async function* tap(source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash?.update(chunk);
            yield chunk;
          }
        },
        createGunzip({ chunkSize: 1024 * 1024 }),
        async (source: AsyncIterable<Buffer>) => {
          for await (const data of source) {
            for (let at = 0; at < data.length;) {
              const { slot, view } = await feeder.acquire();
              const length = Math.min(view.length, data.length - at);
              view.set(data.subarray(at, at + length));
              at += length;
              feeder.send(slot, length);
            }
          }
        },
      );
    } catch (err) {
      if (typeof (err as NodeJS.ErrnoException).code === "string" && (err as NodeJS.ErrnoException).code!.startsWith("Z_")) {
        throw corrupt(`is not a valid gzip stream (${(err as Error).message})`, err);
      }
      throw err;
    }
  };

  await worker.unpack(
    { mode: options.mode, target: options.target, entries: dataDir.entries, chown: options.chown ?? false, label: dataDir.archive, hashParity: 0 },
    feed,
    (bytes, chunk, segments) => {
      handedOff.add(chunk, segments);
      options.onBytes?.(bytes);
    },
    options.signal,
  );
  let ordinal = 0;
  for (const [index, entry] of dataDir.entries.entries()) {
    if (entry.type !== "file" || checksHere(entry.size, ordinal++, 0)) continue;
    const actual = handedOff.digestOf(index);
    if (actual !== entry.sha256) throw corrupt(`${entry.path}: content sha256 ${actual ?? "(not read)"} differs from the manifest's ${entry.sha256 ?? "(none)"}`);
  }
  if (hash === undefined) return;
  const actual = hash.digest("hex");
  if (actual !== dataDir.archiveSha256) throw corrupt(`sha256 ${actual} differs from the manifest's ${dataDir.archiveSha256}`);
}

/** The totals of the manifest must add up (a cheap check before reading any archive). */
export function checkManifestTotals(manifest: SnapshotManifest): void {
  let files = 0;
  let bytes = 0;
  for (const dataDir of manifest.dataDirs) {
    for (const entry of dataDir.entries) {
      if (entry.type !== "file") continue;
      files += 1;
      bytes += entry.size;
      if (entry.sha256 === undefined) throw new HoistError("SNAPSHOT_CORRUPT", `manifest of snapshot ${manifest.id} has no sha256 for ${entry.path}`, { details: { id: manifest.id, path: entry.path } });
    }
    if (dataDir.missing === true && dataDir.entries.length > 0) {
      throw new HoistError("SNAPSHOT_CORRUPT", `manifest of snapshot ${manifest.id} marks ${dataDir.path} missing but lists entries`, { details: { id: manifest.id } });
    }
    if (dataDir.missing !== true && (dataDir.entries[0]?.path !== "." || dataDir.entries[0].type !== "dir")) {
      throw new HoistError("SNAPSHOT_CORRUPT", `manifest of snapshot ${manifest.id} does not start ${dataDir.path} with its root entry "."`, { details: { id: manifest.id } });
    }
  }
  if (files !== manifest.files || bytes !== manifest.bytes) {
    throw new HoistError("SNAPSHOT_CORRUPT", `manifest of snapshot ${manifest.id} says ${manifest.files} files / ${manifest.bytes} bytes but lists ${files} / ${bytes}`, {
      details: { id: manifest.id },
    });
  }
}
