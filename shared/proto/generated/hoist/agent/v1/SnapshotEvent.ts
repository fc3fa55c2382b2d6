// Original file: proto/hoist/agent/v1/agent.proto

import type { Progress as _hoist_agent_v1_Progress, Progress__Output as _hoist_agent_v1_Progress__Output } from '../../../hoist/agent/v1/Progress.ts';
import type { SnapshotSummary as _hoist_agent_v1_SnapshotSummary, SnapshotSummary__Output as _hoist_agent_v1_SnapshotSummary__Output } from '../../../hoist/agent/v1/SnapshotSummary.ts';

/**
 * One message of the Snapshot stream: progress, then one result.
 */
export interface SnapshotEvent {
  /**
   * Work in progress.
   */
  'progress'?: (_hoist_agent_v1_Progress | null);
  /**
   * The snapshot taken; always the last message.
   */
  'result'?: (_hoist_agent_v1_SnapshotSummary | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}

/**
 * One message of the Snapshot stream: progress, then one result.
 */
export interface SnapshotEvent__Output {
  /**
   * Work in progress.
   */
  'progress'?: (_hoist_agent_v1_Progress__Output | null);
  /**
   * The snapshot taken; always the last message.
   */
  'result'?: (_hoist_agent_v1_SnapshotSummary__Output | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}
