// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks the agent to take a snapshot.
 */
export interface SnapshotRequest {
  /**
   * Managed service name.
   */
  'service'?: (string);
  /**
   * Free-text label stored with the snapshot (e.g. "before 2.0.0").
   */
  'label'?: (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_label'?: "label";
  '_cluster'?: "cluster";
}

/**
 * Asks the agent to take a snapshot.
 */
export interface SnapshotRequest__Output {
  /**
   * Managed service name.
   */
  'service': (string);
  /**
   * Free-text label stored with the snapshot (e.g. "before 2.0.0").
   */
  'label'?: (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_label'?: "label";
  '_cluster'?: "cluster";
}
