import { stat } from "node:fs/promises";

/** What the stat of a set of dirs says about them: a key that changes when an entry is added, removed or renamed. */
export interface DirStamp {
  /** Inode, ctime and mtime (ns) of every dir, in order; "-" for a missing one. */
  key: string;
  /** The newest ctime of the dirs, in ms since the epoch (0 when none exists). */
  newestChangeMs: number;
}

/**
 * Stats each dir (one stat call each, no listing). A dir's ctime and mtime move whenever an entry
 * is created, removed or renamed in it, which is how Hoist (and `hoist` CLI processes) publish
 * every change: temp + rename. ctime is kept by the kernel and cannot be set back by `touch`.
 * @throws the stat error for anything but a missing dir (ENOENT, ENOTDIR).
 */
export async function stampDirs(dirs: readonly string[]): Promise<DirStamp> {
  const stats = await Promise.all(
    dirs.map((dir) =>
      stat(dir, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
        throw err;
      }),
    ),
  );
  let newestChangeMs = 0;
  const parts = stats.map((info) => {
    if (info === undefined) return "-";
    newestChangeMs = Math.max(newestChangeMs, Number(info.ctimeNs / 1_000_000n));
    return `${info.ino}:${info.ctimeNs}:${info.mtimeNs}`;
  });
  return { key: parts.join("|"), newestChangeMs };
}
