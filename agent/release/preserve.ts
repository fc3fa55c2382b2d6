import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { chmod, copyFile, lchown, lstat, mkdir, open, readdir, readlink, realpath, rename, rm, symlink, utimes } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";

/**
 * Carries user files (config, keys) from the old release into the new one before the switch.
 *
 * Each listed path (relative to the release dir; a file, a symlink or a directory copied
 * recursively and merged into what the new release ships) overwrites the new release's copy.
 * Files are written atomically (temp file, fsync, rename) with their mode, mtime and, when the
 * agent runs as root, their owner. Paths missing in the old release are skipped.
 * Writing never goes through a symlink of the new release; reading never leaves the old release.
 *
 * @returns the listed paths that were copied, normalized ("./conf/" -> "conf").
 * @throws HoistError INVALID_ARGUMENT when a path is absolute, has a `..` component or names the
 *   release dir itself (nothing is copied then), or goes through a symlink (see above).
 */
export async function carryPreservedFiles(fromDir: string, toDir: string, paths: string[]): Promise<string[]> {
  const cleaned = paths.map(checkPreservePath);
  const fromReal = await realpath(fromDir);
  const copied: string[] = [];
  for (const rel of cleaned) {
    const source = join(fromDir, rel);
    const info = await lstatIfExists(source);
    if (info === undefined) continue;
    const sourceParent = await realpath(dirname(source));
    if (!isInside(fromReal, sourceParent)) {
      throw new HoistError("INVALID_ARGUMENT", `preserve path ${rel} leads outside the old release ${fromDir} through a symlink`, { details: { path: rel } });
    }
    const target = join(toDir, rel);
    await ensureParents(toDir, rel);
    try {
      await copyEntry(source, target, info);
    } catch (err) {
      throw toHoistError(err);
    }
    copied.push(rel);
  }
  return copied;
}

export function checkPreservePath(path: string): string {
  const refuse = (why: string) => new HoistError("INVALID_ARGUMENT", `preserve path ${JSON.stringify(path)} ${why}; list paths relative to the release dir`, { details: { path } });
  if (typeof path !== "string" || path.length === 0) throw refuse("is empty");
  if (path.includes("\0")) throw refuse("contains a NUL byte");
  if (path.includes("\\")) throw refuse("contains a backslash");
  if (isAbsolute(path) || path.startsWith("/") || /^[A-Za-z]:/.test(path)) throw refuse("is absolute");
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) throw refuse("has a '..' component");
  if (parts.length === 0) throw refuse("names the release dir itself");
  return parts.join("/");
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw toHoistError(err);
  }
}

/** Makes the parent dirs of `rel` inside `root`, refusing to go through a symlink. */
async function ensureParents(root: string, rel: string): Promise<void> {
  const parts = rel.split("/").slice(0, -1);
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    const info = await lstatIfExists(current);
    if (info === undefined) {
      await mkdir(current, { mode: 0o755 });
    } else if (info.isSymbolicLink()) {
      throw new HoistError("INVALID_ARGUMENT", `cannot preserve ${rel}: ${current} in the new release is a symlink`, { details: { path: rel } });
    } else if (!info.isDirectory()) {
      throw new HoistError("INVALID_ARGUMENT", `cannot preserve ${rel}: ${current} in the new release is not a directory`, { details: { path: rel } });
    }
  }
}

async function copyEntry(source: string, target: string, info: Stats): Promise<void> {
  if (info.isDirectory()) {
    const existing = await lstatIfExists(target);
    if (existing !== undefined && !existing.isDirectory()) await rm(target, { recursive: true, force: true });
    if (existing === undefined || !existing.isDirectory()) await mkdir(target, { mode: 0o700 });
    for (const name of await readdir(source)) {
      const childInfo = await lstat(join(source, name));
      await copyEntry(join(source, name), join(target, name), childInfo);
    }
    await keepOwner(target, info);
    await chmod(target, info.mode & 0o7777);
    await fsyncDir(target);
    return;
  }
  if (info.isSymbolicLink()) {
    await replaceWith(target, async (temp) => {
      await symlink(await readlink(source), temp);
      await keepOwner(temp, info);
    });
    return;
  }
  if (!info.isFile()) return; // sockets, FIFOs, devices: nothing to carry
  await replaceWith(target, async (temp) => {
    await copyFile(source, temp, constants.COPYFILE_EXCL);
    await keepOwner(temp, info);
    await chmod(temp, info.mode & 0o7777);
    const handle = await open(temp, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await utimes(temp, info.atime, info.mtime);
  });
}

/** Builds `temp` beside `target`, then renames it over (a directory in the way is removed first). */
async function replaceWith(target: string, build: (temp: string) => Promise<void>): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await build(temp);
    const existing = await lstatIfExists(target);
    if (existing?.isDirectory()) await rm(target, { recursive: true, force: true });
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(target));
}

/** As root, files keep their owner (the service user), not root's. */
async function keepOwner(path: string, info: Stats): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await lchown(path, info.uid, info.gid);
}
