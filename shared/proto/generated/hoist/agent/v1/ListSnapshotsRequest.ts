// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks for one service's snapshots.
 */
export interface ListSnapshotsRequest {
  /**
   * Managed service name, as in the agent config.
   */
  'service'?: (string);
}

/**
 * Asks for one service's snapshots.
 */
export interface ListSnapshotsRequest__Output {
  /**
   * Managed service name, as in the agent config.
   */
  'service': (string);
}
