// Original file: proto/hoist/agent/v1/agent.proto

import type { Artifact as _hoist_agent_v1_Artifact, Artifact__Output as _hoist_agent_v1_Artifact__Output } from '../../../hoist/agent/v1/Artifact.ts';

/**
 * Asks the agent to upgrade a service.
 */
export interface UpgradeRequest {
  /**
   * Managed service name.
   */
  'service'?: (string);
  /**
   * Target version.
   */
  'to'?: (string);
  /**
   * Allow a target older than the active version (refused with DOWNGRADE_REFUSED otherwise).
   */
  'allowDowngrade'?: (boolean);
  /**
   * Idempotency key: a repeat with the same key returns the recorded outcome instead of running again.
   */
  'key'?: (string);
  /**
   * Skip the drain/rejoin hooks (the coordinator runs them as separate steps).
   */
  'skipDrain'?: (boolean);
  /**
   * Artifact given directly (single direct hop, no migrations) instead of looked up in the catalog.
   */
  'artifact'?: (_hoist_agent_v1_Artifact | null);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_key'?: "key";
  '_artifact'?: "artifact";
  '_cluster'?: "cluster";
}

/**
 * Asks the agent to upgrade a service.
 */
export interface UpgradeRequest__Output {
  /**
   * Managed service name.
   */
  'service': (string);
  /**
   * Target version.
   */
  'to': (string);
  /**
   * Allow a target older than the active version (refused with DOWNGRADE_REFUSED otherwise).
   */
  'allowDowngrade': (boolean);
  /**
   * Idempotency key: a repeat with the same key returns the recorded outcome instead of running again.
   */
  'key'?: (string);
  /**
   * Skip the drain/rejoin hooks (the coordinator runs them as separate steps).
   */
  'skipDrain': (boolean);
  /**
   * Artifact given directly (single direct hop, no migrations) instead of looked up in the catalog.
   */
  'artifact'?: (_hoist_agent_v1_Artifact__Output | null);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_key'?: "key";
  '_artifact'?: "artifact";
  '_cluster'?: "cluster";
}
