import { open } from "node:fs/promises";
import { join } from "node:path";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { abandonSnapshot, beginSnapshot, createSnapshot, progressReporter, publishSnapshot, scanForSpace, type CreateSnapshotInput, type SnapshotJob } from "./create.ts";
import { removeTree } from "./fs-ops.ts";
import { unmarkInProgress } from "./in-progress.ts";
import type { SnapshotDataDir, SnapshotEntry, SnapshotInfo } from "./manifest.ts";
import type { PackLayout } from "./pack.ts";
import { archiveName } from "./paths.ts";
import { readArchive } from "./read-archive.ts";
import { BLOCK, decodeBlock, retiredBlock } from "./tar-format.ts";
import { acquireSnapshotWorker, releaseSnapshotWorker, type SnapshotWorker } from "./worker-client.ts";
import { FileHashes } from "./file-hashes.ts";
import { writeArchive } from "./write-archive.ts";

/** The second phase falls back to a full snapshot when more than this share of the content changed. */
const MAX_DELTA_SHARE = 0.5;

interface FirstPhaseDir {
  root: string;
  archive: string;
  entries: SnapshotEntry[];
  layout: PackLayout;
  archiveBytes: number;
  contentBytes: number;
}

/**
 * A snapshot taken in two phases. `startTwoPhaseSnapshot` archives the data dirs while the service
 * still runs and verifies that archive (all outside the downtime); after the stop, `finish` walks
 * the data dirs again, overwrites in place every entry that changed, vanished or was seen changing
 * while read (a PAX global header with a comment, which tar readers skip), rewrites changed dir
 * headers, appends what is new or changed, fsyncs, verifies the parts it wrote and publishes the
 * snapshot. The result is an ordinary snapshot (format 2, plain tar, restorable by GNU tar).
 * When more than half of the content changed, or the first phase cannot be used, `finish` takes a
 * full snapshot instead, so the second phase never costs much more than a full one.
 *
 * Plain tar only: with `compression: gzip` both calls fall through to one full snapshot in `finish`.
 */
export class TwoPhaseSnapshot {
  private finished = false;

  private constructor(
    private readonly input: CreateSnapshotInput,
    private readonly job: SnapshotJob | undefined,
    private readonly worker: SnapshotWorker | undefined,
    private readonly dirs: FirstPhaseDir[],
    private readonly startedMs: number,
  ) {}

  /**
   * First phase, with the service running: archives every data dir into the snapshot's `.partial`
   * dir (files changing meanwhile are marked for the second phase) and verifies the archives. The
   * worker thread stays reserved until `finish` or `discard`.
   * Throws like createSnapshot (INVALID_ARGUMENT, DISK_FULL, CANCELLED, ...).
   */
  static async start(input: CreateSnapshotInput, options: WorkOptions = {}): Promise<TwoPhaseSnapshot> {
    if (input.compression !== "none") return new TwoPhaseSnapshot(input, undefined, undefined, [], 0);
    const { signal } = options;
    const startedMs = Date.now();
    const job = await beginSnapshot(input, signal);
    const worker = acquireSnapshotWorker();
    try {
      const scans = await scanForSpace(worker, job.roots, input.snapshotsDir, true, signal);
      if (scans.some((scan) => scan.missing)) {
        // A missing data dir: nothing to copy ahead; the second phase takes a full snapshot.
        await releaseSnapshotWorker(worker);
        unmarkInProgress(job.partial);
        await removeTree(job.partial).catch(() => undefined);
        return new TwoPhaseSnapshot(input, undefined, undefined, [], 0);
      }
      const report = progressReporter(scans, input.dataDirs, "snapshot", options);
      const dirs: FirstPhaseDir[] = [];
      for (const [index, root] of job.roots.entries()) {
        const archive = archiveName(index, "none");
        const written = await writeArchive(worker, root, join(job.partial, archive), "none", (bytes) => report(index, bytes), signal, { tolerant: true, keep: true });
        dirs.push({ root, archive, entries: written.entries, layout: written.layout, archiveBytes: written.bytes, contentBytes: scans[index]!.bytes });
      }
      options.onProgress?.({ step: "snapshot", message: "verifying the copy taken while the service runs" });
      for (const dir of dirs) {
        await readArchive(worker, job.partial, { path: dir.root, archive: dir.archive, archiveBytes: dir.archiveBytes, entries: dir.entries }, "none", { mode: "verify", signal });
      }
      return new TwoPhaseSnapshot(input, job, worker, dirs, startedMs);
    } catch (err) {
      for (const root of job.roots) worker.drop(root);
      unmarkInProgress(job.partial);
      await releaseSnapshotWorker(worker);
      throw await abandonSnapshot(job, err, input.snapshotsDir, signal);
    }
  }

  /**
   * Second phase, with the service stopped: takes what changed since the first phase, verifies it
   * and publishes the snapshot (see the class). Throws like createSnapshot; WRONG_STATE when a file
   * changes while it is read now.
   */
  async finish(options: WorkOptions = {}): Promise<SnapshotInfo> {
    if (this.finished) throw new HoistError("INTERNAL", "this two-phase snapshot is already finished");
    this.finished = true;
    const { job, worker } = this;
    if (job === undefined || worker === undefined) return createSnapshot(this.input, options);
    const { signal } = options;
    let fallback: string | undefined;
    try {
      throwIfAborted(signal);
      const dataDirs: SnapshotDataDir[] = [];
      for (const [index, dir] of this.dirs.entries()) {
        const archivePath = join(job.partial, dir.archive);
        const hashes = new FileHashes();
        const delta = await worker.delta(dir.root, archivePath, this.startedMs, Math.floor(dir.contentBytes * MAX_DELTA_SHARE), (view, segments) => hashes.add(view, segments), signal);
        if (delta.fallback === true) {
          fallback = delta.reason;
          break;
        }
        const appended = hashes.fill(delta.appended);
        const retired = new Set(delta.retired);
        const modes = new Map(delta.rewritten.map(({ index: at, mode }) => [at, mode]));
        const entries: SnapshotEntry[] = [];
        for (const [at, entry] of dir.entries.entries()) {
          if (retired.has(at)) continue;
          const mode = modes.get(at);
          entries.push(mode === undefined ? entry : { ...entry, mode });
        }
        entries.push(...appended);
        const dataDir: SnapshotDataDir = { path: this.input.dataDirs[index]!, archive: dir.archive, archiveBytes: delta.archiveBytes, entries };
        // Verify what this phase wrote: the appended entries (read back, every sha256), each retired block and rewritten header.
        await readArchive(worker, job.partial, { ...dataDir, entries: appended }, "none", { mode: "verify", from: delta.appendStart, signal });
        await checkPatchedHeaders(archivePath, dir, delta.retired, [...modes.keys()], dataDir.archive);
        dataDirs.push(dataDir);
      }
      if (fallback === undefined) {
        const info = await publishSnapshot(this.input, job, dataDirs);
        options.onProgress?.({ step: "snapshot", message: `snapshot ${info.id}: ${dataDirs.reduce((sum, d) => sum + d.entries.length, 0)} entries, second phase verified` });
        return info;
      }
    } catch (err) {
      throw await abandonSnapshot(job, err, this.input.snapshotsDir, signal);
    } finally {
      for (const dir of this.dirs) worker.drop(dir.root);
      unmarkInProgress(job.partial);
      await releaseSnapshotWorker(worker);
    }
    options.onProgress?.({ step: "snapshot", message: `taking a full snapshot instead of a delta: ${fallback}` });
    await removeTree(job.partial);
    return createSnapshot(this.input, options);
  }

  /** Gives the first phase up (the upgrade did not get to the second one): removes it, frees the worker. */
  async discard(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (this.job === undefined || this.worker === undefined) return;
    for (const dir of this.dirs) this.worker.drop(dir.root);
    unmarkInProgress(this.job.partial);
    await releaseSnapshotWorker(this.worker);
    await removeTree(this.job.partial).catch(() => undefined);
  }
}

/** Reads back every header the second phase overwrote in place: a retired block must read as one, a rewritten dir as that dir. */
async function checkPatchedHeaders(path: string, dir: FirstPhaseDir, retired: number[], rewritten: number[], label: string): Promise<void> {
  const corrupt = (what: string) => new HoistError("SNAPSHOT_CORRUPT", `snapshot archive ${label}: ${what} after the second phase`, { details: { archive: label } });
  const handle = await open(path, "r");
  try {
    const readAt = async (length: number, position: number) => {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead !== length) throw corrupt(`short read at byte ${position}`);
      return buffer;
    };
    const checkRetired = async (index: number) => {
      const offset = dir.layout.offsets[index]!;
      const length = dir.layout.lengths[index]!;
      const decoded = decodeBlock(await readAt(BLOCK, offset));
      if (decoded.kind !== "global" || decoded.size !== length - BLOCK) throw corrupt(`the retired block of ${dir.entries[index]!.path} does not read back`);
      const { prefix } = retiredBlock(length);
      if (prefix.length === 0) return;
      const [head, tail] = await Promise.all([readAt(prefix.length, offset + BLOCK), readAt(1, offset + length - 1)]);
      if (Buffer.compare(head, prefix) !== 0 || tail[0] !== 0x0a) throw corrupt(`the comment record retiring ${dir.entries[index]!.path} does not read back`);
    };
    const checkRewritten = async (index: number) => {
      const header = await readAt(dir.layout.lengths[index]!, dir.layout.offsets[index]!);
      const decoded = decodeBlock(header.subarray(header.length - BLOCK));
      if (decoded.kind !== "entry" || decoded.header.type !== "dir") throw corrupt(`the rewritten header of ${dir.entries[index]!.path} does not read back`);
    };
    // Reads run side by side on the thread pool (a few hundred small reads each way).
    await Promise.all([...retired.map(checkRetired), ...rewritten.map(checkRewritten)]);
  } finally {
    await handle.close();
  }
}
