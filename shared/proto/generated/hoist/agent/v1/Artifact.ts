// Original file: proto/hoist/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * An artifact given directly instead of looked up in the catalog.
 */
export interface Artifact {
  /**
   * file:// or http(s):// URL of the release tarball.
   */
  'url'?: (string);
  /**
   * Expected sha256 of the tarball, 64 lowercase hex digits.
   */
  'sha256'?: (string);
  /**
   * Expected size in bytes, when known.
   */
  'size'?: (number | string | Long);
  '_size'?: "size";
}

/**
 * An artifact given directly instead of looked up in the catalog.
 */
export interface Artifact__Output {
  /**
   * file:// or http(s):// URL of the release tarball.
   */
  'url': (string);
  /**
   * Expected sha256 of the tarball, 64 lowercase hex digits.
   */
  'sha256': (string);
  /**
   * Expected size in bytes, when known.
   */
  'size'?: (number);
  '_size'?: "size";
}
