// Original file: proto/hoist/agent/v1/agent.proto

import type { Disk as _hoist_agent_v1_Disk, Disk__Output as _hoist_agent_v1_Disk__Output } from '../../../hoist/agent/v1/Disk.ts';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * Facts about the host, cached by the agent and refreshed in the background.
 */
export interface HostFacts {
  /**
   * Host name.
   */
  'hostname'?: (string);
  /**
   * Distribution and release, e.g. "Debian GNU/Linux 12".
   */
  'os'?: (string);
  /**
   * Kernel release.
   */
  'kernel'?: (string);
  /**
   * CPU architecture, e.g. x64, arm64.
   */
  'arch'?: (string);
  /**
   * CPU model name.
   */
  'cpuModel'?: (string);
  /**
   * Logical CPU cores.
   */
  'cpuCores'?: (number);
  /**
   * Total memory in bytes.
   */
  'memTotalBytes'?: (number | string | Long);
  /**
   * Memory available to new processes in bytes.
   */
  'memFreeBytes'?: (number | string | Long);
  /**
   * Seconds since boot.
   */
  'uptimeSeconds'?: (number | string | Long);
  /**
   * Filesystem of each install root and data dir.
   */
  'disks'?: (_hoist_agent_v1_Disk)[];
  /**
   * When these facts were read.
   */
  'readAt'?: (_google_protobuf_Timestamp | null);
}

/**
 * Facts about the host, cached by the agent and refreshed in the background.
 */
export interface HostFacts__Output {
  /**
   * Host name.
   */
  'hostname': (string);
  /**
   * Distribution and release, e.g. "Debian GNU/Linux 12".
   */
  'os': (string);
  /**
   * Kernel release.
   */
  'kernel': (string);
  /**
   * CPU architecture, e.g. x64, arm64.
   */
  'arch': (string);
  /**
   * CPU model name.
   */
  'cpuModel': (string);
  /**
   * Logical CPU cores.
   */
  'cpuCores': (number);
  /**
   * Total memory in bytes.
   */
  'memTotalBytes': (number);
  /**
   * Memory available to new processes in bytes.
   */
  'memFreeBytes': (number);
  /**
   * Seconds since boot.
   */
  'uptimeSeconds': (number);
  /**
   * Filesystem of each install root and data dir.
   */
  'disks': (_hoist_agent_v1_Disk__Output)[];
  /**
   * When these facts were read.
   */
  'readAt': (_google_protobuf_Timestamp__Output | null);
}
