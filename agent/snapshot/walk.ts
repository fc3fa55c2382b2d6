import { lstatSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { HoistError } from "../../shared/errors/index.ts";
import type { TarEntryType } from "./tar-format.ts";

/** One entry found in a data dir, with what the tar header needs. */
export interface WalkItem {
  /** Relative path, "." for the data dir itself. */
  path: string;
  abs: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  target?: string;
}

export interface WalkResult {
  missing: boolean;
  items: WalkItem[];
  files: number;
  bytes: number;
}

/**
 * Names at the top of a data dir that are Hoist's own leftovers from an interrupted in-place
 * restore (data dir on its own mount); they are never part of a snapshot.
 */
export const RESTORE_DEBRIS = /^\.hoist-(restore|old)-[0-9a-f]+$/;

/**
 * Lists a data dir depth-first, names sorted, dirs before their contents (synchronous: runs in the
 * snapshot worker). `root` must already be resolved (no symlink). A missing root gives
 * `{ missing: true, items: [] }`.
 *
 * Sockets, FIFOs and device files are refused (WRONG_STATE, listing them): they hold no data a
 * snapshot could restore, and skipping them silently would make the restored dir differ from the
 * one snapshotted. Remove them (or move them out of the data dir) and retry.
 */
export function walkDataDir(root: string, isAborted: () => boolean): WalkResult {
  let rootStat;
  try {
    rootStat = statSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { missing: true, items: [], files: 0, bytes: 0 };
    throw err;
  }
  if (!rootStat.isDirectory()) {
    throw new HoistError("INVALID_ARGUMENT", `data dir ${root} is not a directory; fix dataDirs in the service config`, { details: { root } });
  }
  const items: WalkItem[] = [{ path: ".", abs: root, type: "dir", mode: rootStat.mode & 0o7777, uid: rootStat.uid, gid: rootStat.gid, size: 0, mtime: Math.floor(rootStat.mtimeMs / 1000) }];
  const special: string[] = [];
  let files = 0;
  let bytes = 0;

  const visit = (dirAbs: string, dirRel: string) => {
    if (isAborted()) throw cancelled();
    const names = readdirSync(dirAbs).sort();
    for (const name of names) {
      if (dirRel === "." && RESTORE_DEBRIS.test(name)) continue;
      const abs = join(dirAbs, name);
      const path = dirRel === "." ? name : `${dirRel}/${name}`;
      let stat;
      try {
        stat = lstatSync(abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          throw new HoistError("WRONG_STATE", `${path} in data dir ${root} vanished while the snapshot was taken (or its name is not valid UTF-8); is the service stopped?`, {
            details: { root, path },
            cause: err,
          });
        }
        throw err;
      }
      const base = { path, abs, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, mtime: Math.floor(stat.mtimeMs / 1000) };
      if (stat.isFile()) {
        items.push({ ...base, type: "file", size: stat.size });
        files += 1;
        bytes += stat.size;
      } else if (stat.isDirectory()) {
        items.push({ ...base, type: "dir", size: 0 });
        visit(abs, path);
      } else if (stat.isSymbolicLink()) {
        items.push({ ...base, type: "symlink", size: 0, target: readlinkSync(abs) });
      } else {
        special.push(path);
      }
    }
  };
  visit(root, ".");

  if (special.length > 0) {
    const shown = special.slice(0, 10).join(", ");
    const more = special.length > 10 ? ` and ${special.length - 10} more` : "";
    throw new HoistError("WRONG_STATE", `data dir ${root} holds ${special.length} special file(s) (socket, FIFO or device) that a snapshot cannot keep: ${shown}${more}; remove them or move them out of the data dir, then retry`, {
      details: { root, special: special.slice(0, 100) },
    });
  }
  return { missing: false, items, files, bytes };
}

export function cancelled(): HoistError {
  return new HoistError("CANCELLED", "the operation was cancelled");
}
