// Original file: proto/hoist/agent/v1/agent.proto

import type { Progress as _hoist_agent_v1_Progress, Progress__Output as _hoist_agent_v1_Progress__Output } from '../../../hoist/agent/v1/Progress.ts';
import type { Done as _hoist_agent_v1_Done, Done__Output as _hoist_agent_v1_Done__Output } from '../../../hoist/agent/v1/Done.ts';

/**
 * One message of the Restore stream: progress, then one result.
 */
export interface RestoreEvent {
  /**
   * Work in progress.
   */
  'progress'?: (_hoist_agent_v1_Progress | null);
  /**
   * Restore finished; always the last message.
   */
  'result'?: (_hoist_agent_v1_Done | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}

/**
 * One message of the Restore stream: progress, then one result.
 */
export interface RestoreEvent__Output {
  /**
   * Work in progress.
   */
  'progress'?: (_hoist_agent_v1_Progress__Output | null);
  /**
   * Restore finished; always the last message.
   */
  'result'?: (_hoist_agent_v1_Done__Output | null);
  /**
   * Which of the two this message carries.
   */
  'event'?: "progress"|"result";
}
