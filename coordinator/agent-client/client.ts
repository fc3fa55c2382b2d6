/**
 * The coordinator's client of agents' gRPC API. The implementation lives in shared/proto because
 * the agent's own CLI (`hoist agent status`) uses it too, and agent/ and coordinator/ never import
 * each other; coordinator code imports it from here.
 */
export {
  createAgentClient,
  type AgentClient,
  type AgentClientOptions,
  type CallOptions,
  type OperationOptions,
  type NodeInventory,
  type ServiceInventory,
  type HostFacts,
  type ReleaseOnDisk,
  type SnapshotSummary,
  type UpgradeOutcome,
  type UpgradeRequest,
  type ServingStatus,
  type ServiceActivity,
  type HealthStatus,
} from "../../shared/proto/index.ts";
