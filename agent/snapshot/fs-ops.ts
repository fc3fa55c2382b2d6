import { execFile } from "node:child_process";
import { chmod, lstat, open, readdir, rm, statfs } from "node:fs/promises";
import { join } from "node:path";

/**
 * Makes everything under `dir` durable. Uses `sync -f` (syncfs(2) of the dir's filesystem: one
 * call, measured 0.27 s for 20k files + 320 MiB, against 0.9-1.6 s for fsync on every file); when
 * coreutils `sync` is missing or fails, fsyncs every file and dir instead.
 */
export async function syncTree(dir: string): Promise<void> {
  const ok = await new Promise<boolean>((resolve) => {
    execFile("sync", ["-f", dir], (err) => resolve(err === null));
  });
  if (!ok) await fsyncEach(dir);
}

async function fsyncEach(root: string): Promise<void> {
  const paths: string[] = [];
  const visit = async (dir: string) => {
    paths.push(dir);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isFile()) paths.push(path);
    }
  };
  await visit(root);
  let next = 0;
  const lane = async () => {
    while (next < paths.length) {
      const handle = await open(paths[next++]!, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
}

/**
 * Removes a tree, also when it holds read-only dirs (a restored snapshot may: their modes are
 * restored exactly) and the agent is not root: on EACCES/EPERM it makes the dirs writable first.
 * Uses coreutils `rm -rf` first (several times faster than Node's recursive rm on 100k files, which
 * a restore pays for the replaced copy), then Node's when that fails or is missing.
 */
export async function removeTree(path: string): Promise<void> {
  const removed = await new Promise<boolean>((resolve) => {
    execFile("rm", ["-rf", "--", path], (err) => resolve(err === null));
  });
  if (removed) return;
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw err;
    await makeDirsWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeDirsWritable(dir: string): Promise<void> {
  const stat = await lstat(dir).catch(() => undefined);
  if (stat === undefined || !stat.isDirectory()) return;
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await makeDirsWritable(join(dir, entry.name));
  }
}

/** Bytes an unprivileged writer can still use on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
}
