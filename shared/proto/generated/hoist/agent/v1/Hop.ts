// Original file: proto/hoist/agent/v1/agent.proto


/**
 * One hop of an upgrade path.
 */
export interface Hop {
  /**
   * Version before the hop.
   */
  'from'?: (string);
  /**
   * Version after the hop.
   */
  'to'?: (string);
}

/**
 * One hop of an upgrade path.
 */
export interface Hop__Output {
  /**
   * Version before the hop.
   */
  'from': (string);
  /**
   * Version after the hop.
   */
  'to': (string);
}
