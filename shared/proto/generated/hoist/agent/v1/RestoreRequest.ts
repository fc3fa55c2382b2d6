// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks the agent to restore a snapshot.
 */
export interface RestoreRequest {
  /**
   * Managed service name.
   */
  'service'?: (string);
  /**
   * Id of the snapshot to restore (from ListSnapshots).
   */
  'snapshotId'?: (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_cluster'?: "cluster";
}

/**
 * Asks the agent to restore a snapshot.
 */
export interface RestoreRequest__Output {
  /**
   * Managed service name.
   */
  'service': (string);
  /**
   * Id of the snapshot to restore (from ListSnapshots).
   */
  'snapshotId': (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_cluster'?: "cluster";
}
