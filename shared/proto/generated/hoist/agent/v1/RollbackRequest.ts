// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks the agent to roll a service back.
 */
export interface RollbackRequest {
  /**
   * Managed service name.
   */
  'service'?: (string);
  /**
   * Idempotency key: a repeat with the same key returns the recorded outcome.
   */
  'key'?: (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_key'?: "key";
  '_cluster'?: "cluster";
}

/**
 * Asks the agent to roll a service back.
 */
export interface RollbackRequest__Output {
  /**
   * Managed service name.
   */
  'service': (string);
  /**
   * Idempotency key: a repeat with the same key returns the recorded outcome.
   */
  'key'?: (string);
  /**
   * When set, the agent refuses unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_key'?: "key";
  '_cluster'?: "cluster";
}
