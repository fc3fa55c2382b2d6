import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { HoistError } from "../../shared/errors/index.ts";
import { fsyncDir, readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";

/** One file a patch replaces (or adds) in the active release: its path, the new bytes' sha256, and the old ones'. */
export interface PatchedFile {
  path: string;
  sha256: string;
  mode: number;
  /** sha256 of the file it replaces; undefined when the patch adds it. */
  oldSha256?: string;
}

/** What the backup dir holds: the files a patch replaced, as they were, so it can be undone. */
interface PatchBackup {
  files: PatchedFile[];
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

async function regularFiles(root: string, rel = ""): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const name of (await readdir(rel === "" ? root : join(root, rel))).sort()) {
    const path = rel === "" ? name : `${rel}/${name}`;
    const info = await lstat(join(root, path));
    if (info.isDirectory()) for (const [child, mode] of await regularFiles(root, path)) found.set(child, mode);
    else if (info.isFile()) found.set(path, info.mode & 0o7777);
  }
  return found;
}

/**
 * The regular files of `newDir` whose bytes differ from (or are missing in) `activeDir`, with both
 * sha256 (pure reading). Files only the active release has are left alone: a patch adds and
 * replaces, it never deletes.
 */
export async function diffReleaseFiles(activeDir: string, newDir: string): Promise<PatchedFile[]> {
  const active = await regularFiles(activeDir);
  const changed: PatchedFile[] = [];
  for (const [path, mode] of await regularFiles(newDir)) {
    const sha256 = await sha256Of(join(newDir, path));
    const oldSha256 = active.has(path) ? await sha256Of(join(activeDir, path)) : undefined;
    if (oldSha256 !== sha256) changed.push({ path, sha256, mode, ...(oldSha256 === undefined ? {} : { oldSha256 }) });
  }
  return changed;
}

async function replaceFile(source: string, target: string, mode: number): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.${randomBytes(6).toString("hex")}.tmp`;
  await copyFile(source, temp);
  await chmod(temp, mode);
  await rename(temp, target);
  await fsyncDir(dirname(target));
}

/**
 * Replaces `files` in `activeDir` with `newDir`'s, each atomically (temp + rename), after copying the
 * originals to `backupDir` with a manifest (written first, so a crash can always be undone), then
 * checks every replaced file's sha256.
 * @throws HoistError SNAPSHOT_CORRUPT when a file does not read back as expected (undo with undoPatch).
 */
export async function applyPatch(activeDir: string, newDir: string, backupDir: string, files: PatchedFile[]): Promise<void> {
  await rm(backupDir, { recursive: true, force: true });
  await mkdir(join(backupDir, "files"), { recursive: true });
  for (const file of files) {
    if (file.oldSha256 === undefined) continue;
    const info = await lstat(join(activeDir, file.path));
    await replaceFile(join(activeDir, file.path), join(backupDir, "files", file.path), info.mode & 0o7777);
  }
  await writeJsonAtomic(join(backupDir, "manifest.json"), { files } satisfies PatchBackup);
  for (const file of files) await replaceFile(join(newDir, file.path), join(activeDir, file.path), file.mode);
  for (const file of files) {
    const got = await sha256Of(join(activeDir, file.path));
    if (got !== file.sha256) throw new HoistError("SNAPSHOT_CORRUPT", `patched ${file.path} reads back with sha256 ${got}, not ${file.sha256}`, { details: { path: file.path } });
  }
}

/**
 * Puts the files a patch replaced back from `backupDir` (and removes the ones it added), checks
 * their sha256, then removes the backup. Nothing to do without a backup manifest (the patch never
 * started changing files). Safe to run again after a crash.
 * @throws HoistError SNAPSHOT_CORRUPT when an original does not read back as it was.
 */
export async function undoPatch(activeDir: string, backupDir: string): Promise<PatchedFile[]> {
  const backup = await readJsonIfExists<PatchBackup>(join(backupDir, "manifest.json"));
  if (!backup) {
    await rm(backupDir, { recursive: true, force: true });
    return [];
  }
  for (const file of backup.files) {
    const target = join(activeDir, file.path);
    if (file.oldSha256 === undefined) {
      await rm(target, { force: true });
      continue;
    }
    const saved = join(backupDir, "files", file.path);
    const info = await lstat(saved);
    await replaceFile(saved, target, info.mode & 0o7777);
    const got = await sha256Of(target);
    if (got !== file.oldSha256) throw new HoistError("SNAPSHOT_CORRUPT", `restored ${file.path} reads back with sha256 ${got}, not ${file.oldSha256}`, { details: { path: file.path } });
  }
  await rm(backupDir, { recursive: true, force: true });
  return backup.files;
}
