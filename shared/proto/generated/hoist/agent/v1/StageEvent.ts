// Original file: proto/hoist/agent/v1/agent.proto

import type { Progress as _hoist_agent_v1_Progress, Progress__Output as _hoist_agent_v1_Progress__Output } from '../../../hoist/agent/v1/Progress.ts';
import type { ReleaseOnDisk as _hoist_agent_v1_ReleaseOnDisk, ReleaseOnDisk__Output as _hoist_agent_v1_ReleaseOnDisk__Output } from '../../../hoist/agent/v1/ReleaseOnDisk.ts';

/**
 * One message of the Stage stream: progress, then one result.
 */
export interface StageEvent {
  /**
   * Work in progress.
   */
  'progress'?: (_hoist_agent_v1_Progress | null);
  /**
   * The staged release; always the last message.
   */
  'result'?: (_hoist_agent_v1_ReleaseOnDisk | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}

/**
 * One message of the Stage stream: progress, then one result.
 */
export interface StageEvent__Output {
  /**
   * Work in progress.
   */
  'progress'?: (_hoist_agent_v1_Progress__Output | null);
  /**
   * The staged release; always the last message.
   */
  'result'?: (_hoist_agent_v1_ReleaseOnDisk__Output | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}
