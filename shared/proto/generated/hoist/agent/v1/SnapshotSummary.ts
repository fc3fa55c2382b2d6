// Original file: proto/hoist/agent/v1/agent.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp.ts';
import type { Compression as _hoist_agent_v1_Compression, Compression__Output as _hoist_agent_v1_Compression__Output } from '../../../hoist/agent/v1/Compression.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * One snapshot of a service's data dirs.
 */
export interface SnapshotSummary {
  /**
   * Snapshot id (use it with Restore).
   */
  'id'?: (string);
  /**
   * Service it belongs to.
   */
  'service'?: (string);
  /**
   * When it was taken.
   */
  'createdAt'?: (_google_protobuf_Timestamp | null);
  /**
   * Active version when it was taken.
   */
  'version'?: (string);
  /**
   * Label given when it was taken.
   */
  'label'?: (string);
  /**
   * Size of the archive in bytes.
   */
  'bytes'?: (number | string | Long);
  /**
   * Number of files in it.
   */
  'files'?: (number | string | Long);
  /**
   * Compression of the archive.
   */
  'compression'?: (_hoist_agent_v1_Compression);
  '_version'?: "version";
  '_label'?: "label";
}

/**
 * One snapshot of a service's data dirs.
 */
export interface SnapshotSummary__Output {
  /**
   * Snapshot id (use it with Restore).
   */
  'id': (string);
  /**
   * Service it belongs to.
   */
  'service': (string);
  /**
   * When it was taken.
   */
  'createdAt': (_google_protobuf_Timestamp__Output | null);
  /**
   * Active version when it was taken.
   */
  'version'?: (string);
  /**
   * Label given when it was taken.
   */
  'label'?: (string);
  /**
   * Size of the archive in bytes.
   */
  'bytes': (number);
  /**
   * Number of files in it.
   */
  'files': (number);
  /**
   * Compression of the archive.
   */
  'compression': (_hoist_agent_v1_Compression__Output);
  '_version'?: "version";
  '_label'?: "label";
}
