// Original file: proto/hoist/agent/v1/agent.proto

import type { ReleaseOnDisk as _hoist_agent_v1_ReleaseOnDisk, ReleaseOnDisk__Output as _hoist_agent_v1_ReleaseOnDisk__Output } from '../../../hoist/agent/v1/ReleaseOnDisk.ts';
import type { SnapshotSummary as _hoist_agent_v1_SnapshotSummary, SnapshotSummary__Output as _hoist_agent_v1_SnapshotSummary__Output } from '../../../hoist/agent/v1/SnapshotSummary.ts';
import type { UpgradeOutcome as _hoist_agent_v1_UpgradeOutcome, UpgradeOutcome__Output as _hoist_agent_v1_UpgradeOutcome__Output } from '../../../hoist/agent/v1/UpgradeOutcome.ts';
import type { ServingStatus as _hoist_agent_v1_ServingStatus, ServingStatus__Output as _hoist_agent_v1_ServingStatus__Output } from '../../../hoist/agent/v1/ServingStatus.ts';
import type { ServiceActivity as _hoist_agent_v1_ServiceActivity, ServiceActivity__Output as _hoist_agent_v1_ServiceActivity__Output } from '../../../hoist/agent/v1/ServiceActivity.ts';

/**
 * Everything about one managed service on this node.
 */
export interface ServiceInventory {
  /**
   * Service name, as in the agent config.
   */
  'name'?: (string);
  /**
   * Version `current` points to, when a release is active.
   */
  'activeVersion'?: (string);
  /**
   * sha256 of the active release's artifact, when known.
   */
  'activeSha256'?: (string);
  /**
   * Releases on disk, the active one included.
   */
  'releases'?: (_hoist_agent_v1_ReleaseOnDisk)[];
  /**
   * Snapshots kept, newest first.
   */
  'snapshots'?: (_hoist_agent_v1_SnapshotSummary)[];
  /**
   * Outcome of the last upgrade or rollback, when there was one.
   */
  'lastUpgrade'?: (_hoist_agent_v1_UpgradeOutcome | null);
  /**
   * Health from the service's probes.
   */
  'health'?: (_hoist_agent_v1_ServingStatus);
  /**
   * What Hoist is doing with the service.
   */
  'activity'?: (_hoist_agent_v1_ServiceActivity);
  '_activeVersion'?: "activeVersion";
  '_activeSha256'?: "activeSha256";
  '_lastUpgrade'?: "lastUpgrade";
}

/**
 * Everything about one managed service on this node.
 */
export interface ServiceInventory__Output {
  /**
   * Service name, as in the agent config.
   */
  'name': (string);
  /**
   * Version `current` points to, when a release is active.
   */
  'activeVersion'?: (string);
  /**
   * sha256 of the active release's artifact, when known.
   */
  'activeSha256'?: (string);
  /**
   * Releases on disk, the active one included.
   */
  'releases': (_hoist_agent_v1_ReleaseOnDisk__Output)[];
  /**
   * Snapshots kept, newest first.
   */
  'snapshots': (_hoist_agent_v1_SnapshotSummary__Output)[];
  /**
   * Outcome of the last upgrade or rollback, when there was one.
   */
  'lastUpgrade'?: (_hoist_agent_v1_UpgradeOutcome__Output | null);
  /**
   * Health from the service's probes.
   */
  'health': (_hoist_agent_v1_ServingStatus__Output);
  /**
   * What Hoist is doing with the service.
   */
  'activity': (_hoist_agent_v1_ServiceActivity__Output);
  '_activeVersion'?: "activeVersion";
  '_activeSha256'?: "activeSha256";
  '_lastUpgrade'?: "lastUpgrade";
}
