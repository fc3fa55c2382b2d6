// Original file: proto/hoist/agent/v1/agent.proto

import type { Progress as _hoist_agent_v1_Progress, Progress__Output as _hoist_agent_v1_Progress__Output } from '../../../hoist/agent/v1/Progress.ts';
import type { UpgradeOutcome as _hoist_agent_v1_UpgradeOutcome, UpgradeOutcome__Output as _hoist_agent_v1_UpgradeOutcome__Output } from '../../../hoist/agent/v1/UpgradeOutcome.ts';

/**
 * One message of the Upgrade and Rollback streams: progress, then one result.
 */
export interface UpgradeEvent {
  /**
   * Work in progress (step = state machine step: stage, drain, stop, snapshot, switch ...).
   */
  'progress'?: (_hoist_agent_v1_Progress | null);
  /**
   * How the upgrade or rollback ended; always the last message. A rolled-back upgrade is a
   * result (result = ROLLED_BACK), not an error status.
   */
  'result'?: (_hoist_agent_v1_UpgradeOutcome | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}

/**
 * One message of the Upgrade and Rollback streams: progress, then one result.
 */
export interface UpgradeEvent__Output {
  /**
   * Work in progress (step = state machine step: stage, drain, stop, snapshot, switch ...).
   */
  'progress'?: (_hoist_agent_v1_Progress__Output | null);
  /**
   * How the upgrade or rollback ended; always the last message. A rolled-back upgrade is a
   * result (result = ROLLED_BACK), not an error status.
   */
  'result'?: (_hoist_agent_v1_UpgradeOutcome__Output | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}
