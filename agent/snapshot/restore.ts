import { randomBytes } from "node:crypto";
import { chmod, chown, lstat, mkdir, readdir, readlink, realpath, rename, rmdir, stat, utimes } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { HoistError, throwIfAborted, toHoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { freeBytes, removeTree, syncTree } from "./fs-ops.ts";
import { readSnapshotManifest, toSnapshotInfo, type SnapshotDataDir, type SnapshotInfo } from "./manifest.ts";
import { snapshotDir } from "./paths.ts";
import { checkManifestTotals, readArchive } from "./read-archive.ts";
import { RESTORE_DEBRIS } from "./walk.ts";
import { acquireSnapshotWorker, releaseSnapshotWorker } from "./worker-client.ts";

/** Where and how one data dir is put back. */
interface Target {
  dataDir: SnapshotDataDir;
  /** The real dir to replace (symlinks to the data dir are followed). */
  real: string;
  parent: string;
  exists: boolean;
  /** The data dir is a mount point: it cannot be renamed, its contents are swapped instead. */
  inPlace: boolean;
  temp?: string;
}

/**
 * Makes every data dir of the snapshot byte-identical to it: same entries (extra ones removed),
 * content, modes, symlink targets, whole-second mtimes and, when running as root, owners. A data
 * dir recorded as missing is removed (emptied, if it is a mount point).
 *
 * Crash-safe and verify-first: each archive is extracted into a sibling temp dir
 * (`.NAME.restore-RANDOM` beside the data dir), checked entry by entry against the manifest while
 * it streams (sha256 of every file, sha256 of the archive), the extracted tree is compared with the
 * manifest, and everything is synced to disk. Only when all data dirs are ready does the swap
 * start: data dir renamed aside (`.NAME.old-RANDOM`), temp renamed in, parent fsynced, old removed.
 * A corrupt snapshot therefore leaves every data dir untouched. A crash at any point leaves either
 * the old or the restored dir in place (or, between the two renames, none, with the old one
 * aside); running the restore again finishes the job and removes leftovers. Once the swap has
 * started it is finished even if the signal aborts.
 *
 * A data dir that is a mount point cannot be renamed: its temp dir goes inside it
 * (`.hoist-restore-RANDOM`) and the swap moves its top-level entries instead (not atomic; rerun
 * the restore after a crash). Needs free space for a second copy of the data.
 *
 * Throws SNAPSHOT_CORRUPT, NOT_FOUND, INVALID_ARGUMENT, DISK_FULL, CANCELLED/TIMEOUT.
 * Reports progress as step "restore".
 */
export async function restoreSnapshot(snapshotsDir: string, id: string, options: WorkOptions = {}): Promise<SnapshotInfo> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const manifest = await readSnapshotManifest(snapshotsDir, id);
  checkManifestTotals(manifest);
  const dir = snapshotDir(snapshotsDir, id);
  const chown = process.getuid?.() === 0;
  const targets: Target[] = [];
  for (const dataDir of manifest.dataDirs) targets.push(await planTarget(dataDir));
  for (const target of targets) await removeDebris(target);
  await checkSpace(targets);

  const worker = acquireSnapshotWorker();
  try {
    let before = 0;
    let lastPercent = -1;
    for (const target of targets) {
      if (target.dataDir.missing === true) continue;
      const suffix = randomBytes(6).toString("hex");
      target.temp = target.inPlace ? join(target.real, `.hoist-restore-${suffix}`) : join(target.parent, `.${basename(target.real)}.restore-${suffix}`);
      await readArchive(worker, dir, target.dataDir, manifest.compression, {
        mode: "extract",
        target: target.temp,
        chown,
        signal,
        onBytes: (bytes) => {
          const done = before + bytes;
          const percent = manifest.bytes === 0 ? 100 : Math.floor((done / manifest.bytes) * 100);
          if (percent === lastPercent) return;
          lastPercent = percent;
          onProgress?.({ step: "restore", message: `restore ${target.dataDir.path}`, bytes: done, totalBytes: manifest.bytes, percent });
        },
      });
      before += target.dataDir.entries.reduce((sum, entry) => sum + entry.size, 0);
    }
    for (const target of targets) if (target.temp !== undefined) await syncTree(target.temp);
    throwIfAborted(signal);
  } catch (err) {
    await Promise.all(targets.flatMap((target) => (target.temp === undefined ? [] : [removeTree(target.temp).catch(() => undefined)])));
    if (signal?.aborted) throwIfAborted(signal);
    if ((err as NodeJS.ErrnoException).code === "ENOSPC") {
      throw new HoistError("DISK_FULL", `disk full while restoring snapshot ${id}; the data dirs are unchanged; free space and retry`, { cause: err });
    }
    throw toHoistError(err);
  } finally {
    await releaseSnapshotWorker(worker);
  }

  onProgress?.({ step: "restore", message: "swapping restored data dirs in", bytes: manifest.bytes, totalBytes: manifest.bytes, percent: 100 });
  for (const target of targets) {
    if (target.inPlace) await swapInPlace(target);
    else await swapByRename(target);
  }
  return toSnapshotInfo(manifest, dir);
}

async function swapByRename(target: Target): Promise<void> {
  let old: string | undefined;
  if (target.exists) {
    old = join(target.parent, `.${basename(target.real)}.old-${randomBytes(6).toString("hex")}`);
    await rename(target.real, old);
  }
  if (target.temp !== undefined) await rename(target.temp, target.real);
  await fsyncDir(target.parent);
  // The restore is done; a failed cleanup is retried by the next restore of this dir.
  if (old !== undefined) await removeTree(old).catch(() => undefined);
}

async function swapInPlace(target: Target): Promise<void> {
  const old = join(target.real, `.hoist-old-${randomBytes(6).toString("hex")}`);
  await mkdir(old, { mode: 0o700 });
  const keep = new Set([basename(old), target.temp === undefined ? "" : basename(target.temp)]);
  for (const name of await readdir(target.real)) {
    if (!keep.has(name)) await rename(join(target.real, name), join(old, name));
  }
  if (target.temp !== undefined) {
    for (const name of await readdir(target.temp)) await rename(join(target.temp, name), join(target.real, name));
    const root = await stat(target.temp);
    await rmdir(target.temp);
    if (process.getuid?.() === 0) await chown(target.real, root.uid, root.gid);
    await chmod(target.real, root.mode & 0o7777);
    await utimes(target.real, root.atime, root.mtime);
  }
  await fsyncDir(target.real);
  await removeTree(old).catch(() => undefined);
}

/** Follows symlinks to the real data dir; a missing one is restored where the path points. */
async function planTarget(dataDir: SnapshotDataDir): Promise<Target> {
  let current = dataDir.path;
  for (let hops = 0; hops < 40; hops++) {
    let info;
    try {
      info = await lstat(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      if (dataDir.missing !== true) await mkdir(dirname(current), { recursive: true });
      const parent = await realpath(dirname(current)).catch(() => dirname(current));
      return { dataDir, real: join(parent, basename(current)), parent, exists: false, inPlace: false };
    }
    if (info.isSymbolicLink()) {
      current = resolve(dirname(current), await readlink(current));
      continue;
    }
    if (!info.isDirectory()) {
      throw new HoistError("WRONG_STATE", `data dir ${dataDir.path} exists but is not a directory; move it away and retry the restore`, { details: { path: dataDir.path } });
    }
    const real = await realpath(current);
    const parent = dirname(real);
    if (parent === real) throw new HoistError("INVALID_ARGUMENT", `cannot restore over the filesystem root (${dataDir.path})`);
    const inPlace = (await stat(parent)).dev !== info.dev;
    return { dataDir, real, parent, exists: true, inPlace };
  }
  throw new HoistError("WRONG_STATE", `data dir ${dataDir.path} is a loop of symlinks`, { details: { path: dataDir.path } });
}

/** Removes temp and old dirs left by an interrupted restore of this data dir. */
async function removeDebris(target: Target): Promise<void> {
  const name = basename(target.real);
  const prefix = [`.${name}.restore-`, `.${name}.old-`];
  const siblings = await readdir(target.parent).catch(() => [] as string[]);
  for (const sibling of siblings) {
    if (prefix.some((p) => sibling.startsWith(p)) && /-[0-9a-f]{12}$/.test(sibling)) await removeTree(join(target.parent, sibling));
  }
  if (target.inPlace) {
    for (const inner of await readdir(target.real)) if (RESTORE_DEBRIS.test(inner)) await removeTree(join(target.real, inner));
  }
}

/** A restore needs room for a full second copy of each data dir until the old one is removed. */
async function checkSpace(targets: Target[]): Promise<void> {
  const needByDevice = new Map<number, { need: number; path: string }>();
  for (const target of targets) {
    if (target.dataDir.missing === true) continue;
    const where = target.inPlace ? target.real : target.parent;
    const device = (await stat(where)).dev;
    const need = target.dataDir.entries.reduce((sum, entry) => sum + entry.size + 4096, 0);
    const entry = needByDevice.get(device) ?? { need: 0, path: where };
    entry.need += need;
    needByDevice.set(device, entry);
  }
  for (const { need, path } of needByDevice.values()) {
    const free = await freeBytes(path);
    if (free < need) {
      throw new HoistError("DISK_FULL", `not enough space to restore into ${path}: need about ${Math.ceil(need / 2 ** 20)} MiB for the restored copy, ${Math.floor(free / 2 ** 20)} MiB free; the data dirs are unchanged`, {
        details: { path, neededBytes: need, freeBytes: free },
      });
    }
  }
}
