// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks the agent to drain a service.
 */
export interface DrainRequest {
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
 * Asks the agent to drain a service.
 */
export interface DrainRequest__Output {
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
