import { pruneReleases } from "../release/index.ts";
import { pruneSnapshots } from "../snapshot/index.ts";
import type { FinalizeState } from "./finalize-state.ts";

export interface RetentionInput {
  installRoot: string;
  snapshotsDir: string;
  /** `releases.keep` and `snapshots.keep` of the service. */
  keepReleases: number;
  keepSnapshots: number;
  /** Releases and snapshots a rollback may still need (the active release is always kept). */
  protectReleases: readonly string[];
  protectSnapshots: readonly string[];
}

/** What upgrades waiting for `hoist finalize` still need: the release before each, and its snapshot (pure). */
export function neededUntilFinalized(state: Pick<FinalizeState, "pending">): { releases: string[]; snapshots: string[] } {
  return { releases: state.pending.map((pending) => pending.before), snapshots: state.pending.map((pending) => pending.snapshotId) };
}

/**
 * Removes old installs and snapshots once an upgrade is settled (Seafile's and Alfresco's "remove
 * the old install"): keeps the newest `keepReleases` releases and `keepSnapshots` snapshots of the
 * service, and always the active release and whatever is protected, even beyond the counts.
 * Returns what was removed.
 */
export async function applyRetention(input: RetentionInput): Promise<{ releases: string[]; snapshots: string[] }> {
  const releases = await pruneReleases(input.installRoot, input.keepReleases, [...input.protectReleases]);
  const snapshots = await pruneSnapshots(input.snapshotsDir, input.keepSnapshots, [...input.protectSnapshots]);
  return { releases, snapshots };
}
