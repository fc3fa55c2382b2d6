// Original file: proto/hoist/agent/v1/agent.proto

import type { UpgradeResult as _hoist_agent_v1_UpgradeResult, UpgradeResult__Output as _hoist_agent_v1_UpgradeResult__Output } from '../../../hoist/agent/v1/UpgradeResult.ts';
import type { Hop as _hoist_agent_v1_Hop, Hop__Output as _hoist_agent_v1_Hop__Output } from '../../../hoist/agent/v1/Hop.ts';
import type { ErrorInfo as _hoist_agent_v1_ErrorInfo, ErrorInfo__Output as _hoist_agent_v1_ErrorInfo__Output } from '../../../hoist/agent/v1/ErrorInfo.ts';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp.ts';

/**
 * Outcome of an upgrade or rollback.
 */
export interface UpgradeOutcome {
  /**
   * How it ended.
   */
  'result'?: (_hoist_agent_v1_UpgradeResult);
  /**
   * Service upgraded.
   */
  'service'?: (string);
  /**
   * Version active before, when there was one.
   */
  'from'?: (string);
  /**
   * Target version.
   */
  'to'?: (string);
  /**
   * Version active when the operation ended.
   */
  'active'?: (string);
  /**
   * Hops of the path, in order.
   */
  'hops'?: (_hoist_agent_v1_Hop)[];
  /**
   * Why it did not commit, when it did not.
   */
  'error'?: (_hoist_agent_v1_ErrorInfo | null);
  /**
   * When the operation started.
   */
  'startedAt'?: (_google_protobuf_Timestamp | null);
  /**
   * When the operation ended.
   */
  'finishedAt'?: (_google_protobuf_Timestamp | null);
  /**
   * Snapshot taken before the change, when one was.
   */
  'snapshotId'?: (string);
  '_from'?: "from";
  '_active'?: "active";
  '_error'?: "error";
  '_snapshotId'?: "snapshotId";
}

/**
 * Outcome of an upgrade or rollback.
 */
export interface UpgradeOutcome__Output {
  /**
   * How it ended.
   */
  'result': (_hoist_agent_v1_UpgradeResult__Output);
  /**
   * Service upgraded.
   */
  'service': (string);
  /**
   * Version active before, when there was one.
   */
  'from'?: (string);
  /**
   * Target version.
   */
  'to': (string);
  /**
   * Version active when the operation ended.
   */
  'active'?: (string);
  /**
   * Hops of the path, in order.
   */
  'hops': (_hoist_agent_v1_Hop__Output)[];
  /**
   * Why it did not commit, when it did not.
   */
  'error'?: (_hoist_agent_v1_ErrorInfo__Output | null);
  /**
   * When the operation started.
   */
  'startedAt': (_google_protobuf_Timestamp__Output | null);
  /**
   * When the operation ended.
   */
  'finishedAt': (_google_protobuf_Timestamp__Output | null);
  /**
   * Snapshot taken before the change, when one was.
   */
  'snapshotId'?: (string);
  '_from'?: "from";
  '_active'?: "active";
  '_error'?: "error";
  '_snapshotId'?: "snapshotId";
}
