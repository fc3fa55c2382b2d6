import { createHash } from "node:crypto";
import { createReadStream, type Stats } from "node:fs";
import { lstat, readdir, readlink, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { HoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import { carryPreservedFiles, checkPreservePath } from "./preserve.ts";

/** A data dir that lives inside the release dir (Alfresco's alf_data, ejabberd's database/), and how it goes to the new release. */
export interface ReleaseDataDir {
  path: string;
  mode: "copy" | "move";
}

export interface CarriedData {
  path: string;
  mode: "copy" | "move";
  files: number;
  bytes: number;
}

interface TreeSummary {
  files: number;
  bytes: number;
  /** sha256 over every entry's path, type, mode, size and (with contents) the sha256 of its bytes or its link target. */
  digest: string;
}

async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/** What a tree holds, for comparing a carried copy with its source (contents hashed, or only the listing). */
async function summarizeTree(root: string, contents: boolean): Promise<TreeSummary> {
  const lines: string[] = [];
  let files = 0;
  let bytes = 0;
  const visit = async (rel: string): Promise<void> => {
    const path = rel === "" ? root : join(root, rel);
    const info = await lstat(path);
    if (info.isDirectory()) {
      lines.push(`${rel}\td\t${(info.mode & 0o7777).toString(8)}`);
      for (const name of (await readdir(path)).sort()) await visit(rel === "" ? name : `${rel}/${name}`);
    } else if (info.isSymbolicLink()) {
      lines.push(`${rel}\tl\t${await readlink(path)}`);
    } else if (info.isFile()) {
      files += 1;
      bytes += info.size;
      lines.push(`${rel}\tf\t${(info.mode & 0o7777).toString(8)}\t${info.size}${contents ? `\t${await fileSha256(path)}` : ""}`);
    }
  };
  await visit("");
  return { files, bytes, digest: createHash("sha256").update(lines.join("\n")).digest("hex") };
}

/**
 * Carries each release-data dir from the old release into the new one before the switch, replacing
 * what the new package ships there (an empty placeholder, usually):
 * - copy: copied (modes, mtimes, owners kept), then every file's sha256 compared with the source;
 *   the old release keeps its copy untouched, so a rollback finds the data exactly as it was;
 * - move: renamed (same filesystem, instant), then the listing (paths, types, modes, sizes) checked;
 *   the upgrade's snapshot holds the old copy (see `releaseDataSnapshotDirs`).
 * A dir missing in the old release is skipped. Idempotent for `move` after a crash: a dir already
 * in the new release and gone from the old one is left as it is.
 * @throws HoistError SNAPSHOT_CORRUPT when a carried copy differs from its source, INVALID_ARGUMENT for a bad path.
 */
export async function carryReleaseData(fromRelease: string, toRelease: string, dirs: readonly ReleaseDataDir[]): Promise<CarriedData[]> {
  const carried: CarriedData[] = [];
  for (const dir of dirs) {
    const rel = checkPreservePath(dir.path);
    const source = join(fromRelease, rel);
    const target = join(toRelease, rel);
    if ((await lstatIfExists(source)) === undefined) continue;
    const before = await summarizeTree(source, dir.mode === "copy");
    if ((await lstatIfExists(target)) !== undefined) await rm(target, { recursive: true, force: true });
    if (dir.mode === "copy") {
      await carryPreservedFiles(fromRelease, toRelease, [rel]);
    } else {
      await rename(source, target);
      await fsyncDir(dirname(source));
      await fsyncDir(dirname(target));
    }
    const after = await summarizeTree(target, dir.mode === "copy");
    if (after.digest !== before.digest) {
      throw new HoistError(
        "SNAPSHOT_CORRUPT",
        `the ${dir.mode} of ${rel} into the new release does not match the old release's (${after.files} files, ${after.bytes} bytes; expected ${before.files} files, ${before.bytes} bytes); the upgrade rolls back`,
        {
          details: { path: rel, mode: dir.mode },
        },
      );
    }
    carried.push({ path: rel, mode: dir.mode, files: after.files, bytes: after.bytes });
  }
  return carried;
}

/** The release-data dirs of `release` that the upgrade's snapshot must hold: the moved ones (a copy leaves the old one in place). */
export function releaseDataSnapshotDirs(release: string, dirs: readonly ReleaseDataDir[], modes: readonly ReleaseDataDir["mode"][] = ["move"]): string[] {
  return dirs.filter((dir) => modes.includes(dir.mode)).map((dir) => join(release, checkPreservePath(dir.path)));
}
