/**
 * Releases on disk: fetch and verify an artifact, extract it safely, stage it side by side,
 * switch `current` atomically, carry preserved files over, list and prune releases.
 */
export { fetchArtifact, type ArtifactRef, type FetchedArtifact, type FetchOptions } from "./fetch-artifact.ts";
export { extractArchiveSafely, type ExtractLimits, type ExtractResult } from "./extract-safe.ts";
export { stageRelease, type StageInput, type StagedRelease } from "./stage.ts";
export { switchCurrent, readCurrentVersion } from "./switch-current.ts";
export { carryPreservedFiles } from "./preserve.ts";
export { diffReleaseFiles, applyPatch, undoPatch, type PatchedFile } from "./patch-files.ts";
export { carryReleaseData, releaseDataSnapshotDirs, type ReleaseDataDir, type CarriedData } from "./release-data.ts";
export { listReleases, readReleaseMeta, pruneReleases, cleanPartials, releaseMetaSchema, type ReleaseInfo, type ReleaseMeta } from "./store.ts";
export { releaseDir, releasesDir, metaDir, isValidVersion, assertValidVersion } from "./layout.ts";
