import type { WorkOptions } from "../shared/types/index.ts";
import type { Artifact } from "../shared/wire/index.ts";
import type { NodeInventory, ReleaseOnDisk, ServingStatus, SnapshotSummary, UpgradeOutcome, UpgradeRequest } from "../shared/types/index.ts";

export type * from "../shared/types/index.ts";

/**
 * What the agent can do on its node; the CLI, the gRPC server and the NATS bus all drive this one API.
 * Every method throws HoistError with a code from shared/errors.
 */
export interface NodeAgentApi {
  readonly node: string;
  readonly cluster: string;
  inventory(): Promise<NodeInventory>;
  stage(service: string, version: string, options?: WorkOptions & { artifact?: Artifact }): Promise<ReleaseOnDisk>;
  snapshot(service: string, options?: WorkOptions & { label?: string }): Promise<SnapshotSummary>;
  listSnapshots(service: string): Promise<SnapshotSummary[]>;
  restore(service: string, snapshotId: string, options?: WorkOptions): Promise<void>;
  upgrade(request: UpgradeRequest, options?: WorkOptions): Promise<UpgradeOutcome>;
  rollback(service: string, options?: WorkOptions & { key?: string; to?: string }): Promise<UpgradeOutcome>;
  drain(service: string, options?: WorkOptions): Promise<void>;
  rejoin(service: string, options?: WorkOptions): Promise<void>;
  health(service: string): ServingStatus;
  /** Subscribes to health changes of all services ("" = the agent itself); returns unsubscribe. */
  onHealthChange(listener: (service: string, status: ServingStatus) => void): () => void;
}
