import { readFile } from "node:fs/promises";
import * as z from "zod";
import { HoistError } from "../../shared/errors/index.ts";
import { writeJsonAtomic } from "../../shared/fs/index.ts";
import { assertSnapshotId } from "./ids.ts";
import { isSafeRelativePath, manifestPath, snapshotDir, summaryPath } from "./paths.ts";

/**
 * 2: hard links kept (entry type "hardlink", target = the linked file's path), retired entries of a
 * two-phase snapshot may sit in the archive (PAX global comment headers), archive order is not
 * sorted, and no sha256 of the whole archive (every file's sha256, every header and the zero
 * padding are checked instead). Version 1 snapshots are still read, verified and restored.
 */
export const SNAPSHOT_FORMAT_VERSION = 2;

/** One entry of a data dir's archive, as the manifest lists it. */
interface ManifestEntry {
  /** Relative path without "." or ".." segments ("." alone: the data dir itself). */
  path: string;
  type: "file" | "dir" | "symlink" | "hardlink";
  /** Content bytes (0 but for files). */
  size: number;
  /** Permission bits, 0..0o7777. */
  mode: number;
  /** Files: sha256 of the content (hex). */
  sha256?: string;
  /** Symlinks: the target; hardlinks: the path of the file it links to. */
  target?: string;
}

const SHA256 = /^[0-9a-f]{64}$/;
const ENTRY_TYPES = new Set(["file", "dir", "symlink", "hardlink"]);

/**
 * The entry list, checked in place (a zod schema for the entries would build a checked copy of
 * every entry: for 100k files, measured as the biggest part of verify's memory).
 */
function isEntryList(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  for (const entry of value as Record<string, unknown>[]) {
    if (typeof entry !== "object" || entry === null) return false;
    const { path, type, size, mode, sha256, target } = entry;
    if (typeof path !== "string" || !isSafeRelativePath(path) || typeof type !== "string" || !ENTRY_TYPES.has(type)) return false;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0 || typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o7777) return false;
    if (sha256 !== undefined && (typeof sha256 !== "string" || !SHA256.test(sha256))) return false;
    if (target !== undefined && typeof target !== "string") return false;
  }
  return true;
}

const dataDirSchema = z.object({
  /** The data dir as configured (absolute). */
  path: z.string().min(1),
  /** Archive file name inside the snapshot dir (data-0.tar, data-1.tar.gz ...). */
  archive: z.string().regex(/^data-\d+\.tar(\.gz)?$/),
  /** sha256 of the whole archive file (format 1 only; checked when present). */
  archiveSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  archiveBytes: z.number().int().nonnegative(),
  /** The data dir did not exist when the snapshot was taken: restore removes it. */
  missing: z.boolean().optional(),
  /** Every entry, in archive order; the first is "." (the data dir itself); a hardlink comes after its target. */
  entries: z.custom<ManifestEntry[]>(isEntryList, "must be a list of valid entries"),
});

export const snapshotManifestSchema = z.object({
  formatVersion: z.union([z.literal(1), z.literal(SNAPSHOT_FORMAT_VERSION)]),
  id: z.string(),
  service: z.string().min(1),
  createdAt: z.string(),
  version: z.string().optional(),
  label: z.string().optional(),
  compression: z.enum(["none", "gzip"]),
  dataDirs: z.array(dataDirSchema).min(1),
  /** Regular files over all data dirs. */
  files: z.number().int().nonnegative(),
  /** Content bytes of those files. */
  bytes: z.number().int().nonnegative(),
});

export type SnapshotManifest = z.output<typeof snapshotManifestSchema>;
export type SnapshotDataDir = SnapshotManifest["dataDirs"][number];
export type SnapshotEntry = SnapshotDataDir["entries"][number];
export type SnapshotCompression = SnapshotManifest["compression"];

const summarySchema = z.object({
  id: z.string(),
  service: z.string(),
  createdAt: z.string(),
  version: z.string().optional(),
  label: z.string().optional(),
  compression: z.enum(["none", "gzip"]),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** Bytes of all archives on disk. */
  archiveBytes: z.number().int().nonnegative(),
  dataDirs: z.array(
    z.object({
      path: z.string(),
      archive: z.string(),
      archiveBytes: z.number().int().nonnegative(),
      files: z.number().int().nonnegative(),
      bytes: z.number().int().nonnegative(),
      missing: z.boolean(),
    }),
  ),
});

/** What create and list return: the manifest without its entry lists, plus where it lives. */
export type SnapshotInfo = z.output<typeof summarySchema> & {
  /** Absolute path of the snapshot dir. */
  dir: string;
};

/** Summarizes a manifest for listing. */
export function toSnapshotInfo(manifest: SnapshotManifest, dir: string): SnapshotInfo {
  return {
    id: manifest.id,
    service: manifest.service,
    createdAt: manifest.createdAt,
    ...(manifest.version === undefined ? {} : { version: manifest.version }),
    ...(manifest.label === undefined ? {} : { label: manifest.label }),
    compression: manifest.compression,
    files: manifest.files,
    bytes: manifest.bytes,
    archiveBytes: manifest.dataDirs.reduce((sum, dataDir) => sum + dataDir.archiveBytes, 0),
    dataDirs: manifest.dataDirs.map((dataDir) => {
      const files = dataDir.entries.filter((entry) => entry.type === "file");
      return {
        path: dataDir.path,
        archive: dataDir.archive,
        archiveBytes: dataDir.archiveBytes,
        files: files.length,
        bytes: files.reduce((sum, entry) => sum + entry.size, 0),
        missing: dataDir.missing === true,
      };
    }),
    dir,
  };
}

/**
 * Reads and validates `snapshotsDir/ID/manifest.json`.
 * Throws INVALID_ARGUMENT for a malformed id, NOT_FOUND when the snapshot does not exist,
 * SNAPSHOT_CORRUPT when the manifest is unreadable or invalid.
 */
export async function readSnapshotManifest(snapshotsDir: string, id: string): Promise<SnapshotManifest> {
  assertSnapshotId(id);
  const path = manifestPath(snapshotDir(snapshotsDir, id));
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new HoistError("NOT_FOUND", `snapshot ${id} not found in ${snapshotsDir}; list the snapshots to see which exist`, {
        details: { snapshotsDir, id },
        cause: err,
      });
    }
    throw new HoistError("SNAPSHOT_CORRUPT", `cannot read the manifest of snapshot ${id}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HoistError("SNAPSHOT_CORRUPT", `manifest of snapshot ${id} is not valid JSON; the snapshot cannot be used`, { cause: err });
  }
  const parsed = snapshotManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HoistError("SNAPSHOT_CORRUPT", `manifest of snapshot ${id} is invalid at ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
      details: { id, issues: parsed.error.issues.slice(0, 5) },
    });
  }
  if (parsed.data.id !== id) {
    throw new HoistError("SNAPSHOT_CORRUPT", `manifest in snapshot dir ${id} names a different id (${parsed.data.id})`, { details: { id } });
  }
  return parsed.data;
}

/** Writes the manifest and its summary atomically (temp file, fsync, rename, fsync dir each). */
export async function writeSnapshotManifest(dir: string, manifest: SnapshotManifest): Promise<void> {
  await writeJsonAtomic(manifestPath(dir), manifest);
  const { dir: _dir, ...summary } = toSnapshotInfo(manifest, dir);
  await writeJsonAtomic(summaryPath(dir), summary);
}

/**
 * The summary of a snapshot for listing: from `summary.json` when it is there and matches the id,
 * else from the manifest. Does not check the snapshot (verifySnapshot does).
 * Throws like readSnapshotManifest when neither can be read.
 */
export async function readSnapshotInfo(snapshotsDir: string, id: string): Promise<SnapshotInfo> {
  assertSnapshotId(id);
  const dir = snapshotDir(snapshotsDir, id);
  const text = await readFile(summaryPath(dir), "utf8").catch(() => undefined);
  if (text !== undefined) {
    try {
      const summary = summarySchema.parse(JSON.parse(text));
      if (summary.id === id) return { ...summary, dir };
    } catch {
      // fall back to the manifest
    }
  }
  return toSnapshotInfo(await readSnapshotManifest(snapshotsDir, id), dir);
}
