/**
 * The one catalogue of Hoist error codes. Branch on these, never on message text.
 * Each code has one line saying when it is thrown; `grpcStatus` and `retryable` are the defaults
 * used at the wire boundaries (gRPC status mapping, NATS error replies).
 */
export const ERROR_CODES = {
  /** Input failed validation (config file, CLI flag, wire message). */
  INVALID_ARGUMENT: { grpc: "INVALID_ARGUMENT", retryable: false },
  /** Config file missing, unreadable or invalid. */
  CONFIG_INVALID: { grpc: "INVALID_ARGUMENT", retryable: false },
  /** A named thing (service, release, snapshot, node) does not exist. */
  NOT_FOUND: { grpc: "NOT_FOUND", retryable: false },
  /** The operation does not fit the current state (e.g. rollback with nothing to roll back). */
  WRONG_STATE: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** Another upgrade or operation holds the service. */
  BUSY: { grpc: "ABORTED", retryable: true },
  /** A deadline or timeout passed. */
  TIMEOUT: { grpc: "DEADLINE_EXCEEDED", retryable: true },
  /** The caller cancelled. */
  CANCELLED: { grpc: "CANCELLED", retryable: false },
  /** Artifact bytes did not match the expected sha256 or size. */
  ARTIFACT_CHECKSUM_MISMATCH: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** Artifact could not be fetched (path missing, HTTP error). */
  ARTIFACT_FETCH_FAILED: { grpc: "UNAVAILABLE", retryable: true },
  /** Archive refused: unsafe entry, too big, truncated or corrupt. */
  ARCHIVE_UNSAFE: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** Snapshot does not match its manifest, or is missing. */
  SNAPSHOT_CORRUPT: { grpc: "DATA_LOSS", retryable: false },
  /** A hook or migration exited non-zero, was killed or timed out. */
  HOOK_FAILED: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** Health probes did not hold for minHealthyMs within healthyDeadlineMs. */
  HEALTH_CHECK_FAILED: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** No upgrade path exists in the catalog between the two versions. */
  NO_UPGRADE_PATH: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** A downgrade was requested without allowDowngrade. */
  DOWNGRADE_REFUSED: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** The upgrade crashed too often in a row; the loop breaker stopped retrying. */
  CRASH_LOOP: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** A command named a cluster this agent does not belong to. */
  WRONG_CLUSTER: { grpc: "PERMISSION_DENIED", retryable: false },
  /** Caller not authenticated or not allowed. */
  UNAUTHENTICATED: { grpc: "UNAUTHENTICATED", retryable: false },
  /** Compare-and-set lost: someone else changed the record first. */
  CONFLICT: { grpc: "ABORTED", retryable: true },
  /** This coordinator does not hold (or lost) the cluster lease. */
  LEASE_LOST: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** Rollback refused: the upgrade ran permanent migrations and was finalized (`hoist finalize`). */
  FINALIZED: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** A release of the plan must be confirmed (`--confirm VERSION`) after reading its notes. */
  CONFIRMATION_REQUIRED: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** A preflight check failed. */
  PREFLIGHT_FAILED: { grpc: "FAILED_PRECONDITION", retryable: false },
  /** A peer (agent, NATS, gRPC server) could not be reached. */
  UNAVAILABLE: { grpc: "UNAVAILABLE", retryable: true },
  /** Not enough disk space for the snapshot or release. */
  DISK_FULL: { grpc: "RESOURCE_EXHAUSTED", retryable: false },
  /** A desired state or catalog is unsigned or its ed25519 signature does not verify with a configured key. */
  SIGNATURE_INVALID: { grpc: "PERMISSION_DENIED", retryable: false },
  /** A bug or an unexpected foreign error. */
  INTERNAL: { grpc: "INTERNAL", retryable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
