// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks the agent to let a drained service rejoin.
 */
export interface RejoinRequest {
  /**
   * Managed service name.
   */
  'service'?: (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_cluster'?: "cluster";
}

/**
 * Asks the agent to let a drained service rejoin.
 */
export interface RejoinRequest__Output {
  /**
   * Managed service name.
   */
  'service': (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_cluster'?: "cluster";
}
