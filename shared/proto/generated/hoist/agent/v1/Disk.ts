// Original file: proto/hoist/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Free and total bytes of the filesystem holding one path.
 */
export interface Disk {
  /**
   * Install root or data dir (absolute path).
   */
  'path'?: (string);
  /**
   * Bytes available to the agent's user.
   */
  'freeBytes'?: (number | string | Long);
  /**
   * Size of the filesystem.
   */
  'totalBytes'?: (number | string | Long);
}

/**
 * Free and total bytes of the filesystem holding one path.
 */
export interface Disk__Output {
  /**
   * Install root or data dir (absolute path).
   */
  'path': (string);
  /**
   * Bytes available to the agent's user.
   */
  'freeBytes': (number);
  /**
   * Size of the filesystem.
   */
  'totalBytes': (number);
}
