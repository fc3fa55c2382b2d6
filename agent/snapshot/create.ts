import { mkdir, realpath, rename } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { HoistError, throwIfAborted, toHoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { freeBytes, removeTree } from "./fs-ops.ts";
import { makeSnapshotId } from "./ids.ts";
import { markInProgress, unmarkInProgress } from "./in-progress.ts";
import { SNAPSHOT_FORMAT_VERSION, toSnapshotInfo, writeSnapshotManifest, type SnapshotCompression, type SnapshotDataDir, type SnapshotInfo, type SnapshotManifest } from "./manifest.ts";
import { archiveName, partialSnapshotDir, snapshotDir } from "./paths.ts";
import { acquireSnapshotWorker, releaseSnapshotWorker, type SnapshotWorker } from "./worker-client.ts";
import { writeArchive } from "./write-archive.ts";
import type { ScanResult } from "./worker-protocol.ts";

export interface CreateSnapshotInput {
  service: string;
  /** Absolute paths; all of them go into one snapshot. */
  dataDirs: string[];
  snapshotsDir: string;
  compression: SnapshotCompression;
  /** Active release version, recorded for the operator. */
  version?: string;
  label?: string;
}

/**
 * Takes a snapshot of every data dir of a service into `snapshotsDir/ID/`: one tar per data dir
 * (`data-N.tar`, or `data-N.tar.gz` with gzip) and `manifest.json` listing every entry with its
 * type, mode, size, sha256 (files) and target (symlinks). The service must be stopped.
 *
 * The snapshot is built in `ID.partial`; archives and manifest are fsynced, then the dir is
 * renamed to `ID` and the parent fsynced, so a crash never leaves a snapshot that looks complete.
 *
 * - A data dir that does not exist is recorded as `missing` (empty archive); restoring removes it.
 * - A data dir that is a symlink is followed; its target's content is snapshotted.
 * - Sockets, FIFOs and devices in a data dir are refused (WRONG_STATE naming them).
 * - Hard links are kept (within a data dir); sparse files are stored dense; xattrs/ACLs and
 *   sub-second mtimes are not kept. Owners (uid/gid) and whole-second mtimes are kept in the tar.
 *
 * Speed (measured, bench/README.md): a worker thread reads every file once, straight into a shared
 * tar chunk, and writes the plain tar; this thread hashes each file from the same chunk meanwhile
 * (each byte is hashed once; there is no sha256 of the whole archive). With gzip, chunks are compressed as parallel gzip members on the libuv pool.
 *
 * Throws INVALID_ARGUMENT (bad input), WRONG_STATE (special files, files changing), DISK_FULL,
 * CANCELLED/TIMEOUT (signal). Reports progress as step "snapshot".
 */
export async function createSnapshot(input: CreateSnapshotInput, options: WorkOptions = {}): Promise<SnapshotInfo> {
  const { signal } = options;
  const job = await beginSnapshot(input, signal);
  const worker = acquireSnapshotWorker();
  try {
    const scans = await scanForSpace(worker, job.roots, input.snapshotsDir, false, signal);
    const report = progressReporter(scans, input.dataDirs, "snapshot", options);
    const dataDirs: SnapshotDataDir[] = [];
    for (const [index, root] of job.roots.entries()) {
      const archive = archiveName(index, input.compression);
      const written = await writeArchive(worker, root, join(job.partial, archive), input.compression, (bytes) => report(index, bytes), signal);
      dataDirs.push({ path: input.dataDirs[index]!, archive, archiveBytes: written.bytes, ...(scans[index]!.missing ? { missing: true } : {}), entries: written.entries });
    }
    throwIfAborted(signal);
    const info = await publishSnapshot(input, job, dataDirs);
    report(job.roots.length, 0);
    return info;
  } catch (err) {
    throw await abandonSnapshot(job, err, input.snapshotsDir, signal);
  } finally {
    unmarkInProgress(job.partial);
    await releaseSnapshotWorker(worker);
  }
}

/** A snapshot being written: its id, its `.partial` dir and the resolved data dirs. */
export interface SnapshotJob {
  id: string;
  partial: string;
  createdAt: string;
  roots: string[];
}

/** Checks the input, makes the `.partial` dir (marked in progress) and resolves the data dirs. */
export async function beginSnapshot(input: CreateSnapshotInput, signal?: AbortSignal): Promise<SnapshotJob> {
  checkInput(input);
  throwIfAborted(signal);
  await mkdir(input.snapshotsDir, { recursive: true });
  const id = makeSnapshotId();
  const partial = partialSnapshotDir(input.snapshotsDir, id);
  const createdAt = new Date().toISOString();
  markInProgress(partial);
  try {
    await mkdir(partial);
    return { id, partial, createdAt, roots: await Promise.all(input.dataDirs.map(resolveRoot)) };
  } catch (err) {
    unmarkInProgress(partial);
    await removeTree(partial).catch(() => undefined);
    throw toHoistError(err);
  }
}

/** Walks every data dir (kept in the worker for the pack) and refuses with DISK_FULL when the archives would not fit. */
export async function scanForSpace(worker: SnapshotWorker, roots: string[], snapshotsDir: string, tolerant: boolean, signal?: AbortSignal): Promise<ScanResult[]> {
  const scans: ScanResult[] = [];
  for (const root of roots) scans.push(await worker.scan(root, signal, tolerant));
  const needed = scans.reduce((sum, scan) => sum + scan.bytes + scan.entries * 1536, 0) + 1024 * 1024;
  const free = await freeBytes(snapshotsDir);
  if (free < needed) {
    throw new HoistError("DISK_FULL", `not enough space for the snapshot in ${snapshotsDir}: need about ${mib(needed)} MiB, ${mib(free)} MiB free; free space or prune old snapshots`, {
      details: { snapshotsDir, neededBytes: needed, freeBytes: free },
    });
  }
  return scans;
}

/** Progress in percent over all data dirs: call with (data dir index, its content bytes done); (count, 0) reports 100%. */
export function progressReporter(scans: ScanResult[], dataDirs: string[], step: string, options: WorkOptions): (index: number, bytes: number) => void {
  const totalBytes = scans.reduce((sum, scan) => sum + scan.bytes, 0);
  let lastPercent = -1;
  const report = (index: number, bytes: number) => {
    const done = scans.slice(0, index).reduce((sum, scan) => sum + scan.bytes, 0) + bytes;
    const percent = totalBytes === 0 ? 100 : Math.min(100, Math.floor((done / totalBytes) * 100));
    if (percent === lastPercent) return;
    lastPercent = percent;
    options.onProgress?.({ step, message: `snapshot of ${dataDirs[Math.min(index, dataDirs.length - 1)]}`, bytes: done, totalBytes, percent });
  };
  report(0, 0);
  return report;
}

/** Writes the manifest (and summary), fsyncs, renames `.partial` to the snapshot's id and fsyncs the parent. */
export async function publishSnapshot(input: CreateSnapshotInput, job: SnapshotJob, dataDirs: SnapshotDataDir[]): Promise<SnapshotInfo> {
  let files = 0;
  let bytes = 0;
  for (const dataDir of dataDirs) {
    for (const entry of dataDir.entries) {
      if (entry.type !== "file") continue;
      files += 1;
      bytes += entry.size;
    }
  }
  const manifest: SnapshotManifest = {
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    id: job.id,
    service: input.service,
    createdAt: job.createdAt,
    ...(input.version === undefined ? {} : { version: input.version }),
    ...(input.label === undefined ? {} : { label: input.label }),
    compression: input.compression,
    dataDirs,
    files,
    bytes,
  };
  await writeSnapshotManifest(job.partial, manifest);
  await fsyncDir(job.partial);
  const final = snapshotDir(input.snapshotsDir, job.id);
  await rename(job.partial, final);
  await fsyncDir(input.snapshotsDir);
  return toSnapshotInfo(manifest, final);
}

/** Removes the `.partial` dir of a failed snapshot and returns the error to throw (DISK_FULL for ENOSPC). */
export async function abandonSnapshot(job: SnapshotJob, err: unknown, snapshotsDir: string, signal?: AbortSignal): Promise<unknown> {
  await removeTree(job.partial).catch(() => undefined);
  if (signal?.aborted) {
    try {
      throwIfAborted(signal);
    } catch (aborted) {
      return aborted;
    }
  }
  if ((err as NodeJS.ErrnoException).code === "ENOSPC" || (err instanceof HoistError && err.details.errno === "ENOSPC")) {
    return new HoistError("DISK_FULL", `disk full while writing the snapshot to ${snapshotsDir}; free space or prune old snapshots`, { cause: err });
  }
  return toHoistError(err);
}

/** The real dir to read (a symlinked data dir is followed); a missing one stays as given. */
async function resolveRoot(dataDir: string): Promise<string> {
  try {
    return await realpath(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return dataDir;
    throw err;
  }
}

function checkInput(input: CreateSnapshotInput): void {
  const bad = (message: string) => new HoistError("INVALID_ARGUMENT", message, { details: { service: input.service } });
  if (input.service === "") throw bad("service name is empty");
  if (input.dataDirs.length === 0) throw bad(`service ${input.service} has no data dirs to snapshot`);
  if (input.compression !== "none" && input.compression !== "gzip") throw bad(`unknown compression ${String(input.compression)}; use none or gzip`);
  const dirs = input.dataDirs.map((dir) => resolve(dir));
  const snapshots = resolve(input.snapshotsDir);
  for (const [i, dir] of input.dataDirs.entries()) {
    if (!isAbsolute(dir)) throw bad(`data dir ${dir} is not an absolute path`);
    for (const [j, other] of dirs.entries()) {
      if (i !== j && (other === dirs[i] || isInside(other, dirs[i]!))) throw bad(`data dirs ${input.dataDirs[i]} and ${input.dataDirs[j]} overlap; list each dir once`);
    }
    if (isInside(snapshots, dirs[i]!) || snapshots === dirs[i] || isInside(dirs[i]!, snapshots)) {
      throw bad(`snapshots dir ${input.snapshotsDir} and data dir ${dir} overlap; keep snapshots outside the data dirs`);
    }
  }
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

function mib(bytes: number): number {
  return Math.ceil(bytes / (1024 * 1024));
}
