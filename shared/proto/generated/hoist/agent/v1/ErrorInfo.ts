// Original file: proto/hoist/agent/v1/agent.proto


/**
 * A Hoist error as carried inside a result (not as a call status).
 */
export interface ErrorInfo {
  /**
   * Code from Hoist's error catalogue (e.g. HEALTH_CHECK_FAILED).
   */
  'code'?: (string);
  /**
   * What was wrong and what to do.
   */
  'message'?: (string);
}

/**
 * A Hoist error as carried inside a result (not as a call status).
 */
export interface ErrorInfo__Output {
  /**
   * Code from Hoist's error catalogue (e.g. HEALTH_CHECK_FAILED).
   */
  'code': (string);
  /**
   * What was wrong and what to do.
   */
  'message': (string);
}
