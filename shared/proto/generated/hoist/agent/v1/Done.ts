// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Final result of operations that return nothing but success (Restore, Drain, Rejoin).
 */
export interface Done {
  /**
   * The service the operation acted on.
   */
  'service'?: (string);
}

/**
 * Final result of operations that return nothing but success (Restore, Drain, Rejoin).
 */
export interface Done__Output {
  /**
   * The service the operation acted on.
   */
  'service': (string);
}
