import { lstatSync, readdirSync, readlinkSync, statSync, type Stats } from "node:fs";
import { HoistError } from "../../shared/errors/index.ts";
import type { TarEntryType } from "./tar-format.ts";

/** One entry found in a data dir, with what the tar header needs and what tells a later change. */
export interface WalkItem {
  /** Relative path, "." for the data dir itself. */
  path: string;
  /** As lstat saw it; a file with several links is still "file" here (pack decides which one is the hardlink). */
  type: Exclude<TarEntryType, "hardlink">;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  target?: string;
  /** Identity and change stamps (lstat): device, inode, link count, mtime and ctime in ms with their fraction. */
  dev: number;
  ino: number;
  nlink: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface WalkOptions {
  /**
   * The service may still be running (first phase of a two-phase snapshot): entries vanishing
   * while listed are left out and special files (sockets, FIFOs) skipped, not refused; the second
   * phase, with the service stopped, lists again and is strict.
   */
  tolerant?: boolean;
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
export function walkDataDir(root: string, isAborted: () => boolean, options: WalkOptions = {}): WalkResult {
  const tolerant = options.tolerant === true;
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
  const items: WalkItem[] = [itemOf(".", "dir", rootStat, undefined)];
  const special: string[] = [];
  let files = 0;
  let bytes = 0;

  const visit = (dirAbs: string, dirRel: string) => {
    if (isAborted()) throw cancelled();
    let names: string[];
    try {
      names = readdirSync(dirAbs).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (tolerant && (code === "ENOENT" || code === "ENOTDIR")) return;
      throw err;
    }
    for (const name of names) {
      if (dirRel === "." && RESTORE_DEBRIS.test(name)) continue;
      const abs = `${dirAbs}/${name}`; // names hold no "/" and dirAbs is resolved: no join() normalizing every path
      const path = dirRel === "." ? name : `${dirRel}/${name}`;
      let stat;
      try {
        stat = lstatSync(abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          if (tolerant) continue;
          throw new HoistError("WRONG_STATE", `${path} in data dir ${root} vanished while the snapshot was taken (or its name is not valid UTF-8); is the service stopped?`, {
            details: { root, path },
            cause: err,
          });
        }
        throw err;
      }
      if (stat.isFile()) {
        items.push(itemOf(path, "file", stat, undefined));
        files += 1;
        bytes += stat.size;
      } else if (stat.isDirectory()) {
        items.push(itemOf(path, "dir", stat, undefined));
        visit(abs, path);
      } else if (stat.isSymbolicLink()) {
        let target: string;
        try {
          target = readlinkSync(abs);
        } catch (err) {
          if (tolerant && (err as NodeJS.ErrnoException).code === "ENOENT") continue;
          throw err;
        }
        items.push(itemOf(path, "symlink", stat, target));
      } else if (!tolerant) {
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

/** The key of a file's inode (hard links share it). */
export function inodeKey(item: WalkItem): string {
  return `${item.dev}:${item.ino}`;
}

/** One object per entry, all fields set in one literal (walks list 100k entries; no spreads). */
function itemOf(path: string, type: WalkItem["type"], stat: Stats, target: string | undefined): WalkItem {
  return {
    path,
    type,
    mode: stat.mode & 0o7777,
    uid: stat.uid,
    gid: stat.gid,
    size: type === "file" ? stat.size : 0,
    mtime: Math.floor(stat.mtimeMs / 1000),
    target,
    dev: stat.dev,
    ino: stat.ino,
    nlink: stat.nlink,
    mtimeMs: stat.mtimeMs,
    ctimeMs: stat.ctimeMs,
  };
}

export function cancelled(): HoistError {
  return new HoistError("CANCELLED", "the operation was cancelled");
}
