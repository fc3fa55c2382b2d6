// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks the agent to stage a release.
 */
export interface StageRequest {
  /**
   * Managed service name.
   */
  'service'?: (string);
  /**
   * Version to stage, as named in the catalog.
   */
  'version'?: (string);
  /**
   * When set, the agent refuses (WRONG_CLUSTER, PERMISSION_DENIED) unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_cluster'?: "cluster";
}

/**
 * Asks the agent to stage a release.
 */
export interface StageRequest__Output {
  /**
   * Managed service name.
   */
  'service': (string);
  /**
   * Version to stage, as named in the catalog.
   */
  'version': (string);
  /**
   * When set, the agent refuses (WRONG_CLUSTER, PERMISSION_DENIED) unless it belongs to this cluster.
   */
  'cluster'?: (string);
  '_cluster'?: "cluster";
}
