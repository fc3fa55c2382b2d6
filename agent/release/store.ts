import { randomBytes } from "node:crypto";
import { lstat, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import { fsyncDir, readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";
import { isValidVersion, metaDir, metaPath, releaseDir, releasesDir } from "./layout.ts";
import { readCurrentVersion } from "./switch-current.ts";

/** What Hoist records about a staged release in `releases/.hoist/VERSION.json`. */
export const releaseMetaSchema = z.object({
  version: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  /** Where the artifact came from, without credentials or query string. */
  url: z.string(),
  /** ISO 8601 time the release was staged. */
  stagedAt: z.string(),
});

export type ReleaseMeta = z.output<typeof releaseMetaSchema>;

/** A release directory under releases/, with its metadata when Hoist staged it. */
export interface ReleaseInfo {
  version: string;
  dir: string;
  sha256?: string;
  size?: number;
  stagedAt?: string;
  /** `current` points at it. */
  active: boolean;
}

/**
 * Reads the metadata of a staged release; undefined when there is none.
 *
 * @throws HoistError INVALID_ARGUMENT for an unsafe version, WRONG_STATE when the file is not
 *   valid metadata of that version.
 */
export async function readReleaseMeta(installRoot: string, version: string): Promise<ReleaseMeta | undefined> {
  const path = metaPath(installRoot, version);
  let raw: unknown;
  try {
    raw = await readJsonIfExists(path);
  } catch (err) {
    throw new HoistError("WRONG_STATE", `release metadata ${path} is unreadable: ${(err as Error).message}; remove it and stage the release again`, {
      cause: err,
      details: { path },
    });
  }
  if (raw === undefined) return undefined;
  const parsed = releaseMetaSchema.safeParse(raw);
  if (!parsed.success || parsed.data.version !== version) {
    throw new HoistError("WRONG_STATE", `release metadata ${path} is not valid metadata of release ${version}; remove it and stage the release again`, {
      details: { path },
    });
  }
  return parsed.data;
}

/** Writes the metadata of a staged release atomically. */
export async function writeReleaseMeta(installRoot: string, meta: ReleaseMeta): Promise<void> {
  const path = metaPath(installRoot, meta.version);
  await writeJsonAtomic(path, releaseMetaSchema.parse(meta));
}

/**
 * Lists the release directories of an install root, oldest first (by stagedAt, or by the dir's
 * mtime when it has no metadata). `.partial` dirs and `.hoist` are not releases.
 *
 * @throws HoistError WRONG_STATE when `current` or a metadata file is broken.
 */
export async function listReleases(installRoot: string): Promise<ReleaseInfo[]> {
  const root = releasesDir(installRoot);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw toHoistError(err);
  }
  const active = await readCurrentVersion(installRoot);
  const found: (ReleaseInfo & { order: number })[] = [];
  for (const name of names) {
    if (!isValidVersion(name)) continue;
    const dir = join(root, name);
    const info = await lstat(dir).catch(() => undefined);
    if (info === undefined || !info.isDirectory()) continue;
    const meta = await readReleaseMeta(installRoot, name);
    const stagedAt = meta === undefined ? undefined : Date.parse(meta.stagedAt);
    found.push({
      version: name,
      dir,
      sha256: meta?.sha256,
      size: meta?.size,
      stagedAt: meta?.stagedAt,
      active: name === active,
      order: stagedAt !== undefined && Number.isFinite(stagedAt) ? stagedAt : info.mtimeMs,
    });
  }
  found.sort((a, b) => a.order - b.order || a.version.localeCompare(b.version));
  return found.map(({ order: _order, ...release }) => release);
}

/**
 * Removes the oldest releases until at most `keep` remain, never the active one nor any in
 * `protect` (so more than `keep` may remain). Each release dir is first renamed to a hidden
 * `.partial` name (so a crash leaves something cleanPartials removes, never half a release), then
 * its metadata and the dir are deleted. Returns the removed versions, oldest first.
 *
 * @throws HoistError INVALID_ARGUMENT for a bad `keep`, WRONG_STATE when `current` is broken
 *   (nothing is removed then).
 */
export async function pruneReleases(installRoot: string, keep: number, protect: string[]): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 0) {
    throw new HoistError("INVALID_ARGUMENT", `keep must be a non-negative integer, got ${keep}`);
  }
  const releases = await listReleases(installRoot);
  const protectedVersions = new Set(protect);
  let excess = releases.length - keep;
  const removed: string[] = [];
  for (const release of releases) {
    if (excess <= 0) break;
    if (release.active || protectedVersions.has(release.version)) continue;
    await removeRelease(installRoot, release.version);
    removed.push(release.version);
    excess -= 1;
  }
  return removed;
}

async function removeRelease(installRoot: string, version: string): Promise<void> {
  const root = releasesDir(installRoot);
  const trash = join(root, `.prune-${version}-${randomBytes(4).toString("hex")}.partial`);
  await rename(releaseDir(installRoot, version), trash);
  await fsyncDir(root);
  await rm(metaPath(installRoot, version), { force: true });
  await rm(trash, { recursive: true, force: true });
}

/**
 * Removes what an interrupted stage, prune or switch left behind: `releases/*.partial`,
 * `current.tmp-*` symlinks, temp files and orphan metadata (no release dir) in `releases/.hoist`.
 * Call it when the agent starts, before any stage runs. Returns the removed paths.
 */
export async function cleanPartials(installRoot: string): Promise<string[]> {
  const removed: string[] = [];
  const root = releasesDir(installRoot);
  for (const name of await readdirIfExists(root)) {
    if (!name.endsWith(".partial")) continue;
    const path = join(root, name);
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  for (const name of await readdirIfExists(installRoot)) {
    if (!name.startsWith("current.tmp-")) continue;
    const path = join(installRoot, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info?.isSymbolicLink()) continue;
    await rm(path, { force: true });
    removed.push(path);
  }
  const metas = metaDir(installRoot);
  for (const name of await readdirIfExists(metas)) {
    const path = join(metas, name);
    const version = name.endsWith(".json") ? name.slice(0, -".json".length) : undefined;
    const orphan = version !== undefined && isValidVersion(version) && !(await isDirectory(join(root, version)));
    const temp = name.startsWith(".") && name.endsWith(".tmp");
    if (!orphan && !temp) continue;
    await rm(path, { force: true });
    removed.push(path);
  }
  if (removed.length > 0) {
    for (const dir of [root, installRoot, metas]) await fsyncDir(dir).catch(() => undefined);
  }
  return removed;
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw toHoistError(err);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined);
  return info?.isDirectory() ?? false;
}
