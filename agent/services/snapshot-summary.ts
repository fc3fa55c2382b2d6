import type { SnapshotInfo } from "../snapshot/index.ts";
import type { SnapshotSummary } from "../node-agent-api.ts";

/** The API's view of a snapshot (what inventory, gRPC and the CLI show). */
export function toSnapshotSummary(info: SnapshotInfo): SnapshotSummary {
  return {
    id: info.id,
    service: info.service,
    createdAt: info.createdAt,
    ...(info.version === undefined ? {} : { version: info.version }),
    ...(info.label === undefined ? {} : { label: info.label }),
    bytes: info.bytes,
    files: info.files,
    compression: info.compression,
  };
}
