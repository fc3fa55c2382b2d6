// Original file: proto/hoist/agent/v1/agent.proto

import type { SnapshotSummary as _hoist_agent_v1_SnapshotSummary, SnapshotSummary__Output as _hoist_agent_v1_SnapshotSummary__Output } from '../../../hoist/agent/v1/SnapshotSummary.ts';

/**
 * One service's snapshots.
 */
export interface ListSnapshotsResponse {
  /**
   * Snapshots, newest first.
   */
  'snapshots'?: (_hoist_agent_v1_SnapshotSummary)[];
}

/**
 * One service's snapshots.
 */
export interface ListSnapshotsResponse__Output {
  /**
   * Snapshots, newest first.
   */
  'snapshots': (_hoist_agent_v1_SnapshotSummary__Output)[];
}
