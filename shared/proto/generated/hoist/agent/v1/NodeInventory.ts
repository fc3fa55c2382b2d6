// Original file: proto/hoist/agent/v1/agent.proto

import type { ServiceInventory as _hoist_agent_v1_ServiceInventory, ServiceInventory__Output as _hoist_agent_v1_ServiceInventory__Output } from '../../../hoist/agent/v1/ServiceInventory.ts';
import type { HostFacts as _hoist_agent_v1_HostFacts, HostFacts__Output as _hoist_agent_v1_HostFacts__Output } from '../../../hoist/agent/v1/HostFacts.ts';

/**
 * Everything the agent knows about its node.
 */
export interface NodeInventory {
  /**
   * Node name (unique within the cluster).
   */
  'node'?: (string);
  /**
   * Cluster the agent belongs to.
   */
  'cluster'?: (string);
  /**
   * Version of the Hoist agent.
   */
  'agentVersion'?: (string);
  /**
   * Managed services, in config order.
   */
  'services'?: (_hoist_agent_v1_ServiceInventory)[];
  /**
   * Host facts.
   */
  'host'?: (_hoist_agent_v1_HostFacts | null);
  /**
   * host:port of the agent's gRPC server as it listens (empty when unknown).
   */
  'grpcAddress'?: (string);
}

/**
 * Everything the agent knows about its node.
 */
export interface NodeInventory__Output {
  /**
   * Node name (unique within the cluster).
   */
  'node': (string);
  /**
   * Cluster the agent belongs to.
   */
  'cluster': (string);
  /**
   * Version of the Hoist agent.
   */
  'agentVersion': (string);
  /**
   * Managed services, in config order.
   */
  'services': (_hoist_agent_v1_ServiceInventory__Output)[];
  /**
   * Host facts.
   */
  'host': (_hoist_agent_v1_HostFacts__Output | null);
  /**
   * host:port of the agent's gRPC server as it listens (empty when unknown).
   */
  'grpcAddress': (string);
}
