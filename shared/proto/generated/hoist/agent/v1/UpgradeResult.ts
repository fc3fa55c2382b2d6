// Original file: proto/hoist/agent/v1/agent.proto

/**
 * How an upgrade or rollback ended.
 */
export const UpgradeResult = {
  /**
   * Not sent by the agent; reserved as the proto3 zero value.
   */
  UPGRADE_RESULT_UNSPECIFIED: 'UPGRADE_RESULT_UNSPECIFIED',
  /**
   * On the target version and healthy.
   */
  UPGRADE_RESULT_COMMITTED: 'UPGRADE_RESULT_COMMITTED',
  /**
   * Failed after stop; data and release restored, running again on the old version.
   */
  UPGRADE_RESULT_ROLLED_BACK: 'UPGRADE_RESULT_ROLLED_BACK',
  /**
   * Failed before the service stopped; nothing changed.
   */
  UPGRADE_RESULT_ABORTED: 'UPGRADE_RESULT_ABORTED',
  /**
   * The rollback itself failed, or the loop breaker stopped it: an operator must look.
   */
  UPGRADE_RESULT_FAILED: 'UPGRADE_RESULT_FAILED',
  /**
   * Already on the target; nothing done.
   */
  UPGRADE_RESULT_NOOP: 'UPGRADE_RESULT_NOOP',
} as const;

/**
 * How an upgrade or rollback ended.
 */
export type UpgradeResult =
  /**
   * Not sent by the agent; reserved as the proto3 zero value.
   */
  | 'UPGRADE_RESULT_UNSPECIFIED'
  | 0
  /**
   * On the target version and healthy.
   */
  | 'UPGRADE_RESULT_COMMITTED'
  | 1
  /**
   * Failed after stop; data and release restored, running again on the old version.
   */
  | 'UPGRADE_RESULT_ROLLED_BACK'
  | 2
  /**
   * Failed before the service stopped; nothing changed.
   */
  | 'UPGRADE_RESULT_ABORTED'
  | 3
  /**
   * The rollback itself failed, or the loop breaker stopped it: an operator must look.
   */
  | 'UPGRADE_RESULT_FAILED'
  | 4
  /**
   * Already on the target; nothing done.
   */
  | 'UPGRADE_RESULT_NOOP'
  | 5

/**
 * How an upgrade or rollback ended.
 */
export type UpgradeResult__Output = typeof UpgradeResult[keyof typeof UpgradeResult]
