// Original file: proto/hoist/agent/v1/agent.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp.ts';

/**
 * A release directory on disk (releases/VERSION).
 */
export interface ReleaseOnDisk {
  /**
   * Version of the release.
   */
  'version'?: (string);
  /**
   * sha256 of the artifact it was unpacked from (64 hex digits), when known.
   */
  'sha256'?: (string);
  /**
   * When it was staged, when known.
   */
  'stagedAt'?: (_google_protobuf_Timestamp | null);
  /**
   * True for the release `current` points to.
   */
  'active'?: (boolean);
  '_sha256'?: "sha256";
  '_stagedAt'?: "stagedAt";
}

/**
 * A release directory on disk (releases/VERSION).
 */
export interface ReleaseOnDisk__Output {
  /**
   * Version of the release.
   */
  'version': (string);
  /**
   * sha256 of the artifact it was unpacked from (64 hex digits), when known.
   */
  'sha256'?: (string);
  /**
   * When it was staged, when known.
   */
  'stagedAt'?: (_google_protobuf_Timestamp__Output | null);
  /**
   * True for the release `current` points to.
   */
  'active': (boolean);
  '_sha256'?: "sha256";
  '_stagedAt'?: "stagedAt";
}
