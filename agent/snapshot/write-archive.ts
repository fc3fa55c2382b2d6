import { open, type FileHandle } from "node:fs/promises";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { SnapshotCompression, SnapshotEntry } from "./manifest.ts";
import type { PackLayout } from "./pack.ts";
import { FileHashes } from "./file-hashes.ts";
import type { SnapshotWorker } from "./worker-client.ts";

const gzipAsync = promisify(gzip);

/** gzip level: 1 is several times faster than the default 6 and loses little on data dirs (see bench/README.md). */
export const GZIP_LEVEL = 1;

export interface ArchiveWritten {
  entries: SnapshotEntry[];
  bytes: number;
  layout: PackLayout;
}

/**
 * Writes the archive of one data dir (`root`, already resolved) to `path` and returns its manifest
 * entries (every file with its sha256), the archive's size and where each entry sits. The archive
 * is fsynced. Each file's bytes are hashed once; the archive as a whole is not (verify checks every
 * header, the padding and every file's sha256 instead).
 *
 * Plain tar: the worker reads every file into shared chunks and writes the archive; this thread
 * hashes the files from the same chunks meanwhile and starts writeback early. gzip: this
 * thread compresses the chunks as parallel gzip members and writes them.
 * `flags` as for SnapshotWorker.pack (plain tar only).
 */
export async function writeArchive(
  worker: SnapshotWorker,
  root: string,
  path: string,
  compression: SnapshotCompression,
  onBytes: (contentBytes: number) => void,
  signal?: AbortSignal,
  flags: { tolerant?: boolean; keep?: boolean } = {},
): Promise<ArchiveWritten> {
  const hashes = new FileHashes();
  if (compression === "none") {
    const flusher = new EarlyFlusher(path);
    let bytes = 0;
    try {
      const { entries, layout } = await worker.pack(
        root,
        path,
        (view, segments, bytesDone) => {
          hashes.add(view, segments);
          bytes += view.length;
          flusher.wrote(bytes);
          onBytes(bytesDone);
        },
        signal,
        flags,
      );
      return { entries: hashes.fill(entries), bytes, layout };
    } finally {
      await flusher.close();
    }
  }
  const handle = await open(path, "wx", 0o600);
  try {
    const writer = new GzipArchiveWriter(handle);
    const { entries, layout } = await worker.pack(
      root,
      undefined,
      (view, segments, bytesDone) => {
        hashes.add(view, segments);
        onBytes(bytesDone);
        return writer.add(view);
      },
      signal,
    );
    const bytes = await writer.finish();
    return { entries: hashes.fill(entries), bytes, layout };
  } finally {
    await handle.close();
  }
}

/**
 * Writes tar chunks gzip-compressed, in order, hashing what lands on disk. Every chunk becomes one
 * or more gzip members, compressed on the libuv pool as soon as it arrives, so several compress at
 * once (like pigz); concatenated members are one valid gzip file for gunzip, tar and Node's zlib.
 * Stretches that look incompressible (already compressed or random data: deflate would spend
 * several times longer on them for nothing) are stored (level 0) instead.
 */
class GzipArchiveWriter {
  private bytes = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly handle: FileHandle) {}

  /** Resolves when the chunk is written (its slot may be reused then). */
  add(chunk: Uint8Array): Promise<void> {
    const members = splitByCompressibility(chunk).map(({ start, end, store }) => gzipAsync(chunk.subarray(start, end), { level: store ? 0 : GZIP_LEVEL }));
    for (const member of members) member.catch(() => undefined);
    const write = this.tail.then(async () => {
      for (const member of members) {
        const data = await member;
        let done = 0;
        while (done < data.length) {
          const { bytesWritten } = await this.handle.write(data, done, data.length - done);
          done += bytesWritten;
        }
        this.bytes += data.length;
      }
    });
    this.tail = write;
    return write;
  }

  /** Resolves with the bytes written, once synced. */
  async finish(): Promise<number> {
    await this.tail;
    await this.handle.sync();
    return this.bytes;
  }
}

/**
 * Starts writeback of a growing archive early: every FLUSH_EVERY bytes, a datasync on the libuv
 * pool, so the final fsync (by the writer) has little left to do and the disk works while the
 * CPUs pack. At most one datasync runs at a time.
 */
class EarlyFlusher {
  static readonly FLUSH_EVERY = 64 * 1024 * 1024;
  private handle: Promise<FileHandle | undefined> | undefined;
  private running: Promise<void> | undefined;
  private flushedAt = 0;

  constructor(private readonly path: string) {}

  wrote(bytes: number): void {
    if (this.running !== undefined || bytes - this.flushedAt < EarlyFlusher.FLUSH_EVERY) return;
    this.flushedAt = bytes;
    this.handle ??= open(this.path, "r").catch(() => undefined);
    this.running = this.handle
      .then((handle) => handle?.datasync())
      .catch(() => undefined)
      .finally(() => (this.running = undefined));
  }

  async close(): Promise<void> {
    await this.running;
    await (await this.handle)?.close();
  }
}

const PIECE = 256 * 1024;
const SAMPLE = 1024;
/** Order-0 entropy (bits per byte) above which a sample counts as incompressible (random data: ~7.95). */
const STORE_ABOVE_BITS = 7.5;

/** Cuts a chunk into runs of 256 KiB pieces that look compressible or not (judged by sampled entropy). */
export function splitByCompressibility(chunk: Uint8Array): { start: number; end: number; store: boolean }[] {
  const runs: { start: number; end: number; store: boolean }[] = [];
  const counts = new Uint32Array(256);
  for (let start = 0; start < chunk.length; start += PIECE) {
    const end = Math.min(chunk.length, start + PIECE);
    counts.fill(0);
    let sampled = 0;
    for (let k = 0; k < 4; k++) {
      const at = start + Math.floor(((end - start - SAMPLE) * k) / 3);
      if (at < start) continue;
      for (let i = at; i < at + SAMPLE && i < end; i++) counts[chunk[i]!]! += 1;
      sampled += Math.min(SAMPLE, end - at);
    }
    let bits = 0;
    if (sampled > 0) {
      for (let b = 0; b < 256; b++) {
        const c = counts[b]!;
        if (c > 0) bits -= (c / sampled) * Math.log2(c / sampled);
      }
    }
    const store = sampled >= 4 * SAMPLE && bits > STORE_ABOVE_BITS;
    const last = runs.at(-1);
    if (last !== undefined && last.store === store) last.end = end;
    else runs.push({ start, end, store });
  }
  return runs;
}
