import { lstat, mkdir, rename, rm } from "node:fs/promises";
import { HoistError, throwIfAborted, toHoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { extractArchiveSafely } from "./extract-safe.ts";
import { fetchArtifact, type ArtifactRef } from "./fetch-artifact.ts";
import { assertValidVersion, metaDir, metaPath, partialDir, redactUrl, releaseDir, releasesDir } from "./layout.ts";
import { readReleaseMeta, writeReleaseMeta } from "./store.ts";
import { readCurrentVersion } from "./switch-current.ts";

export interface StageInput {
  installRoot: string;
  version: string;
  artifact: ArtifactRef;
  /** Where verified artifacts are kept (`<sha256>.artifact`). */
  cacheDir: string;
  limits: { maxArtifactBytes: number; maxExtractedBytes: number; maxEntries: number };
}

export interface StagedRelease {
  version: string;
  /** `INSTALL_ROOT/releases/VERSION`. */
  dir: string;
  sha256: string;
  /** True when the same artifact was already staged as this version and nothing was done. */
  alreadyStaged: boolean;
}

/**
 * Stages a release side by side with the others, without touching `current`:
 * fetch and verify the artifact (sha256 and size before anything parses it), extract it safely
 * into `releases/VERSION.partial` (any leftover partial is removed first), fsync, write
 * `releases/.hoist/VERSION.json`, rename the partial dir to `releases/VERSION`.
 *
 * Idempotent: staging the same version from the same sha256 again is a no-op (`alreadyStaged`).
 * On any failure the partial dir is removed; `current` and other releases are never touched.
 * Metadata is written before the rename, so a crash leaves at worst a partial dir and orphan
 * metadata (both removed by cleanPartials), never a release without metadata.
 *
 * @throws HoistError INVALID_ARGUMENT for an unsafe version, WRONG_STATE when releases/VERSION
 *   exists from a different artifact (or without metadata), plus everything fetchArtifact and
 *   extractArchiveSafely throw (ARTIFACT_CHECKSUM_MISMATCH, ARTIFACT_FETCH_FAILED, ARCHIVE_UNSAFE,
 *   CANCELLED, TIMEOUT).
 */
export async function stageRelease(input: StageInput, options: WorkOptions = {}): Promise<StagedRelease> {
  const { installRoot, version, artifact, cacheDir, limits } = input;
  const { signal, onProgress } = options;
  assertValidVersion(version);
  const sha256 = artifact.sha256.toLowerCase();
  const dir = releaseDir(installRoot, version);
  throwIfAborted(signal);

  const existing = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw toHoistError(err);
  });
  if (existing !== undefined) {
    if (!existing.isDirectory()) {
      throw new HoistError("WRONG_STATE", `${dir} exists and is not a directory; remove it before staging ${version}`, { details: { dir } });
    }
    const meta = await readReleaseMeta(installRoot, version);
    if (meta?.sha256 === sha256) {
      onProgress?.({ step: "stage", message: `release ${version} is already staged`, percent: 100 });
      return { version, dir, sha256, alreadyStaged: true };
    }
    const active = (await readCurrentVersion(installRoot).catch(() => undefined)) === version;
    const was = meta === undefined ? "has no Hoist metadata" : `was staged from artifact sha256 ${meta.sha256}`;
    const todo = active ? "it is the active release: publish the new artifact under a new version" : "prune or remove it first if the new artifact is intended, or use a new version";
    throw new HoistError("WRONG_STATE", `release ${version} already exists in ${releasesDir(installRoot)} and ${was}, not ${sha256}; ${todo}`, {
      details: { version, dir, expected: sha256, staged: meta?.sha256, active },
    });
  }

  await mkdir(metaDir(installRoot), { recursive: true });
  const partial = partialDir(installRoot, version);
  await rm(partial, { recursive: true, force: true });
  let metaWritten = false;
  try {
    const fetched = await fetchArtifact(artifact, cacheDir, { signal, onProgress, maxBytes: limits.maxArtifactBytes });
    await extractArchiveSafely(fetched.path, partial, limits, options);
    throwIfAborted(signal);
    await writeReleaseMeta(installRoot, {
      version,
      sha256: fetched.sha256,
      size: fetched.size,
      url: redactUrl(artifact.url),
      stagedAt: new Date().toISOString(),
    });
    metaWritten = true;
    await rename(partial, dir);
    await fsyncDir(releasesDir(installRoot));
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    if (metaWritten) await rm(metaPath(installRoot, version), { force: true });
    if (err instanceof HoistError) throw err;
    throwIfAborted(signal);
    throw toHoistError(err);
  }
  onProgress?.({ step: "stage", message: `staged release ${version}`, percent: 100 });
  return { version, dir, sha256, alreadyStaged: false };
}
