// Original file: proto/hoist/agent/v1/agent.proto

/**
 * Compression of a snapshot archive.
 */
export const Compression = {
  /**
   * Not sent by the agent; reserved as the proto3 zero value.
   */
  COMPRESSION_UNSPECIFIED: 'COMPRESSION_UNSPECIFIED',
  /**
   * Plain tar: the fastest stop window.
   */
  COMPRESSION_NONE: 'COMPRESSION_NONE',
  /**
   * gzip: smaller, several times slower.
   */
  COMPRESSION_GZIP: 'COMPRESSION_GZIP',
} as const;

/**
 * Compression of a snapshot archive.
 */
export type Compression =
  /**
   * Not sent by the agent; reserved as the proto3 zero value.
   */
  | 'COMPRESSION_UNSPECIFIED'
  | 0
  /**
   * Plain tar: the fastest stop window.
   */
  | 'COMPRESSION_NONE'
  | 1
  /**
   * gzip: smaller, several times slower.
   */
  | 'COMPRESSION_GZIP'
  | 2

/**
 * Compression of a snapshot archive.
 */
export type Compression__Output = typeof Compression[keyof typeof Compression]
