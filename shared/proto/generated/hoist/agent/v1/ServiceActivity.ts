// Original file: proto/hoist/agent/v1/agent.proto

/**
 * What Hoist is doing with a service right now.
 */
export const ServiceActivity = {
  /**
   * Not sent by the agent; reserved as the proto3 zero value.
   */
  SERVICE_ACTIVITY_UNSPECIFIED: 'SERVICE_ACTIVITY_UNSPECIFIED',
  /**
   * Nothing in progress.
   */
  SERVICE_ACTIVITY_IDLE: 'SERVICE_ACTIVITY_IDLE',
  /**
   * A release is being staged (the service keeps running).
   */
  SERVICE_ACTIVITY_STAGING: 'SERVICE_ACTIVITY_STAGING',
  /**
   * The drain hook is running.
   */
  SERVICE_ACTIVITY_DRAINING: 'SERVICE_ACTIVITY_DRAINING',
  /**
   * Drained: out of the cluster, waiting for upgrade or rejoin.
   */
  SERVICE_ACTIVITY_DRAINED: 'SERVICE_ACTIVITY_DRAINED',
  /**
   * Stopped by Hoist.
   */
  SERVICE_ACTIVITY_STOPPED: 'SERVICE_ACTIVITY_STOPPED',
  /**
   * An upgrade is in progress.
   */
  SERVICE_ACTIVITY_UPGRADING: 'SERVICE_ACTIVITY_UPGRADING',
  /**
   * A rollback is in progress.
   */
  SERVICE_ACTIVITY_ROLLING_BACK: 'SERVICE_ACTIVITY_ROLLING_BACK',
} as const;

/**
 * What Hoist is doing with a service right now.
 */
export type ServiceActivity =
  /**
   * Not sent by the agent; reserved as the proto3 zero value.
   */
  | 'SERVICE_ACTIVITY_UNSPECIFIED'
  | 0
  /**
   * Nothing in progress.
   */
  | 'SERVICE_ACTIVITY_IDLE'
  | 1
  /**
   * A release is being staged (the service keeps running).
   */
  | 'SERVICE_ACTIVITY_STAGING'
  | 2
  /**
   * The drain hook is running.
   */
  | 'SERVICE_ACTIVITY_DRAINING'
  | 3
  /**
   * Drained: out of the cluster, waiting for upgrade or rejoin.
   */
  | 'SERVICE_ACTIVITY_DRAINED'
  | 4
  /**
   * Stopped by Hoist.
   */
  | 'SERVICE_ACTIVITY_STOPPED'
  | 5
  /**
   * An upgrade is in progress.
   */
  | 'SERVICE_ACTIVITY_UPGRADING'
  | 6
  /**
   * A rollback is in progress.
   */
  | 'SERVICE_ACTIVITY_ROLLING_BACK'
  | 7

/**
 * What Hoist is doing with a service right now.
 */
export type ServiceActivity__Output = typeof ServiceActivity[keyof typeof ServiceActivity]
