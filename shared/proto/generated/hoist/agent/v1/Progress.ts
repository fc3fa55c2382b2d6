// Original file: proto/hoist/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A progress report from long work.
 */
export interface Progress {
  /**
   * Step of the upgrade state machine or operation name: stage, snapshot, restore, migrate ...
   */
  'step'?: (string);
  /**
   * Human-readable detail of what is happening.
   */
  'message'?: (string);
  /**
   * Bytes done so far, when the work moves bytes.
   */
  'bytes'?: (number | string | Long);
  /**
   * Bytes expected in total, when known.
   */
  'totalBytes'?: (number | string | Long);
  /**
   * 0..100, when known.
   */
  'percent'?: (number | string);
  '_message'?: "message";
  '_bytes'?: "bytes";
  '_totalBytes'?: "totalBytes";
  '_percent'?: "percent";
}

/**
 * A progress report from long work.
 */
export interface Progress__Output {
  /**
   * Step of the upgrade state machine or operation name: stage, snapshot, restore, migrate ...
   */
  'step': (string);
  /**
   * Human-readable detail of what is happening.
   */
  'message'?: (string);
  /**
   * Bytes done so far, when the work moves bytes.
   */
  'bytes'?: (number);
  /**
   * Bytes expected in total, when known.
   */
  'totalBytes'?: (number);
  /**
   * 0..100, when known.
   */
  'percent'?: (number);
  '_message'?: "message";
  '_bytes'?: "bytes";
  '_totalBytes'?: "totalBytes";
  '_percent'?: "percent";
}
