// Original file: proto/hoist/agent/v1/agent.proto

/**
 * Health of one managed service as the agent sees it (the same value grpc.health.v1 reports).
 */
export const ServingStatus = {
  /**
   * Not known yet (no probe result).
   */
  SERVING_STATUS_UNKNOWN: 'SERVING_STATUS_UNKNOWN',
  /**
   * Probes pass.
   */
  SERVING_STATUS_SERVING: 'SERVING_STATUS_SERVING',
  /**
   * Probes fail, or Hoist took the service out.
   */
  SERVING_STATUS_NOT_SERVING: 'SERVING_STATUS_NOT_SERVING',
} as const;

/**
 * Health of one managed service as the agent sees it (the same value grpc.health.v1 reports).
 */
export type ServingStatus =
  /**
   * Not known yet (no probe result).
   */
  | 'SERVING_STATUS_UNKNOWN'
  | 0
  /**
   * Probes pass.
   */
  | 'SERVING_STATUS_SERVING'
  | 1
  /**
   * Probes fail, or Hoist took the service out.
   */
  | 'SERVING_STATUS_NOT_SERVING'
  | 2

/**
 * Health of one managed service as the agent sees it (the same value grpc.health.v1 reports).
 */
export type ServingStatus__Output = typeof ServingStatus[keyof typeof ServingStatus]
