// Original file: proto/hoist/agent/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DrainEvent as _hoist_agent_v1_DrainEvent, DrainEvent__Output as _hoist_agent_v1_DrainEvent__Output } from '../../../hoist/agent/v1/DrainEvent.ts';
import type { DrainRequest as _hoist_agent_v1_DrainRequest, DrainRequest__Output as _hoist_agent_v1_DrainRequest__Output } from '../../../hoist/agent/v1/DrainRequest.ts';
import type { GetInventoryRequest as _hoist_agent_v1_GetInventoryRequest, GetInventoryRequest__Output as _hoist_agent_v1_GetInventoryRequest__Output } from '../../../hoist/agent/v1/GetInventoryRequest.ts';
import type { ListSnapshotsRequest as _hoist_agent_v1_ListSnapshotsRequest, ListSnapshotsRequest__Output as _hoist_agent_v1_ListSnapshotsRequest__Output } from '../../../hoist/agent/v1/ListSnapshotsRequest.ts';
import type { ListSnapshotsResponse as _hoist_agent_v1_ListSnapshotsResponse, ListSnapshotsResponse__Output as _hoist_agent_v1_ListSnapshotsResponse__Output } from '../../../hoist/agent/v1/ListSnapshotsResponse.ts';
import type { NodeInventory as _hoist_agent_v1_NodeInventory, NodeInventory__Output as _hoist_agent_v1_NodeInventory__Output } from '../../../hoist/agent/v1/NodeInventory.ts';
import type { RejoinEvent as _hoist_agent_v1_RejoinEvent, RejoinEvent__Output as _hoist_agent_v1_RejoinEvent__Output } from '../../../hoist/agent/v1/RejoinEvent.ts';
import type { RejoinRequest as _hoist_agent_v1_RejoinRequest, RejoinRequest__Output as _hoist_agent_v1_RejoinRequest__Output } from '../../../hoist/agent/v1/RejoinRequest.ts';
import type { RestoreEvent as _hoist_agent_v1_RestoreEvent, RestoreEvent__Output as _hoist_agent_v1_RestoreEvent__Output } from '../../../hoist/agent/v1/RestoreEvent.ts';
import type { RestoreRequest as _hoist_agent_v1_RestoreRequest, RestoreRequest__Output as _hoist_agent_v1_RestoreRequest__Output } from '../../../hoist/agent/v1/RestoreRequest.ts';
import type { RollbackRequest as _hoist_agent_v1_RollbackRequest, RollbackRequest__Output as _hoist_agent_v1_RollbackRequest__Output } from '../../../hoist/agent/v1/RollbackRequest.ts';
import type { SnapshotEvent as _hoist_agent_v1_SnapshotEvent, SnapshotEvent__Output as _hoist_agent_v1_SnapshotEvent__Output } from '../../../hoist/agent/v1/SnapshotEvent.ts';
import type { SnapshotRequest as _hoist_agent_v1_SnapshotRequest, SnapshotRequest__Output as _hoist_agent_v1_SnapshotRequest__Output } from '../../../hoist/agent/v1/SnapshotRequest.ts';
import type { StageEvent as _hoist_agent_v1_StageEvent, StageEvent__Output as _hoist_agent_v1_StageEvent__Output } from '../../../hoist/agent/v1/StageEvent.ts';
import type { StageRequest as _hoist_agent_v1_StageRequest, StageRequest__Output as _hoist_agent_v1_StageRequest__Output } from '../../../hoist/agent/v1/StageRequest.ts';
import type { UpgradeEvent as _hoist_agent_v1_UpgradeEvent, UpgradeEvent__Output as _hoist_agent_v1_UpgradeEvent__Output } from '../../../hoist/agent/v1/UpgradeEvent.ts';
import type { UpgradeRequest as _hoist_agent_v1_UpgradeRequest, UpgradeRequest__Output as _hoist_agent_v1_UpgradeRequest__Output } from '../../../hoist/agent/v1/UpgradeRequest.ts';

/**
 * The operations of one node's agent.
 */
export interface AgentClient extends grpc.Client {
  /**
   * Runs the service's drain hook (leave the cluster / stop taking traffic).
   */
  Drain(argument: _hoist_agent_v1_DrainRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_DrainEvent__Output>;
  Drain(argument: _hoist_agent_v1_DrainRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_DrainEvent__Output>;
  /**
   * Runs the service's drain hook (leave the cluster / stop taking traffic).
   */
  drain(argument: _hoist_agent_v1_DrainRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_DrainEvent__Output>;
  drain(argument: _hoist_agent_v1_DrainRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_DrainEvent__Output>;
  
  /**
   * Everything the agent knows about its node: services, releases, snapshots, health, host facts.
   * Answers from memory and cached host facts (well under 100 ms); no side effects.
   */
  GetInventory(argument: _hoist_agent_v1_GetInventoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  GetInventory(argument: _hoist_agent_v1_GetInventoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  GetInventory(argument: _hoist_agent_v1_GetInventoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  GetInventory(argument: _hoist_agent_v1_GetInventoryRequest, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  /**
   * Everything the agent knows about its node: services, releases, snapshots, health, host facts.
   * Answers from memory and cached host facts (well under 100 ms); no side effects.
   */
  getInventory(argument: _hoist_agent_v1_GetInventoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  getInventory(argument: _hoist_agent_v1_GetInventoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  getInventory(argument: _hoist_agent_v1_GetInventoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  getInventory(argument: _hoist_agent_v1_GetInventoryRequest, callback: grpc.requestCallback<_hoist_agent_v1_NodeInventory__Output>): grpc.ClientUnaryCall;
  
  /**
   * Snapshots of one service's data dirs, newest first.
   */
  ListSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Snapshots of one service's data dirs, newest first.
   */
  listSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _hoist_agent_v1_ListSnapshotsRequest, callback: grpc.requestCallback<_hoist_agent_v1_ListSnapshotsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Runs the service's rejoin hook (join the cluster again after an upgrade).
   */
  Rejoin(argument: _hoist_agent_v1_RejoinRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RejoinEvent__Output>;
  Rejoin(argument: _hoist_agent_v1_RejoinRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RejoinEvent__Output>;
  /**
   * Runs the service's rejoin hook (join the cluster again after an upgrade).
   */
  rejoin(argument: _hoist_agent_v1_RejoinRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RejoinEvent__Output>;
  rejoin(argument: _hoist_agent_v1_RejoinRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RejoinEvent__Output>;
  
  /**
   * Restores a snapshot into a service's data dirs (the service must be stopped or is stopped).
   */
  Restore(argument: _hoist_agent_v1_RestoreRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RestoreEvent__Output>;
  Restore(argument: _hoist_agent_v1_RestoreRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RestoreEvent__Output>;
  /**
   * Restores a snapshot into a service's data dirs (the service must be stopped or is stopped).
   */
  restore(argument: _hoist_agent_v1_RestoreRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RestoreEvent__Output>;
  restore(argument: _hoist_agent_v1_RestoreRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_RestoreEvent__Output>;
  
  /**
   * Rolls a service back to the release and data of its last upgrade's snapshot.
   */
  Rollback(argument: _hoist_agent_v1_RollbackRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  Rollback(argument: _hoist_agent_v1_RollbackRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  /**
   * Rolls a service back to the release and data of its last upgrade's snapshot.
   */
  rollback(argument: _hoist_agent_v1_RollbackRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  rollback(argument: _hoist_agent_v1_RollbackRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  
  /**
   * Takes a snapshot of a service's data dirs.
   */
  Snapshot(argument: _hoist_agent_v1_SnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_SnapshotEvent__Output>;
  Snapshot(argument: _hoist_agent_v1_SnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_SnapshotEvent__Output>;
  /**
   * Takes a snapshot of a service's data dirs.
   */
  snapshot(argument: _hoist_agent_v1_SnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_SnapshotEvent__Output>;
  snapshot(argument: _hoist_agent_v1_SnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_SnapshotEvent__Output>;
  
  /**
   * Fetches, verifies and unpacks a release beside the active one. No downtime.
   */
  Stage(argument: _hoist_agent_v1_StageRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_StageEvent__Output>;
  Stage(argument: _hoist_agent_v1_StageRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_StageEvent__Output>;
  /**
   * Fetches, verifies and unpacks a release beside the active one. No downtime.
   */
  stage(argument: _hoist_agent_v1_StageRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_StageEvent__Output>;
  stage(argument: _hoist_agent_v1_StageRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_StageEvent__Output>;
  
  /**
   * Upgrades one service on this node along the catalog's path, rolling back on failure.
   */
  Upgrade(argument: _hoist_agent_v1_UpgradeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  Upgrade(argument: _hoist_agent_v1_UpgradeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  /**
   * Upgrades one service on this node along the catalog's path, rolling back on failure.
   */
  upgrade(argument: _hoist_agent_v1_UpgradeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  upgrade(argument: _hoist_agent_v1_UpgradeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_hoist_agent_v1_UpgradeEvent__Output>;
  
}

/**
 * The operations of one node's agent.
 */
export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Runs the service's drain hook (leave the cluster / stop taking traffic).
   */
  Drain: grpc.handleServerStreamingCall<_hoist_agent_v1_DrainRequest__Output, _hoist_agent_v1_DrainEvent>;
  
  /**
   * Everything the agent knows about its node: services, releases, snapshots, health, host facts.
   * Answers from memory and cached host facts (well under 100 ms); no side effects.
   */
  GetInventory: grpc.handleUnaryCall<_hoist_agent_v1_GetInventoryRequest__Output, _hoist_agent_v1_NodeInventory>;
  
  /**
   * Snapshots of one service's data dirs, newest first.
   */
  ListSnapshots: grpc.handleUnaryCall<_hoist_agent_v1_ListSnapshotsRequest__Output, _hoist_agent_v1_ListSnapshotsResponse>;
  
  /**
   * Runs the service's rejoin hook (join the cluster again after an upgrade).
   */
  Rejoin: grpc.handleServerStreamingCall<_hoist_agent_v1_RejoinRequest__Output, _hoist_agent_v1_RejoinEvent>;
  
  /**
   * Restores a snapshot into a service's data dirs (the service must be stopped or is stopped).
   */
  Restore: grpc.handleServerStreamingCall<_hoist_agent_v1_RestoreRequest__Output, _hoist_agent_v1_RestoreEvent>;
  
  /**
   * Rolls a service back to the release and data of its last upgrade's snapshot.
   */
  Rollback: grpc.handleServerStreamingCall<_hoist_agent_v1_RollbackRequest__Output, _hoist_agent_v1_UpgradeEvent>;
  
  /**
   * Takes a snapshot of a service's data dirs.
   */
  Snapshot: grpc.handleServerStreamingCall<_hoist_agent_v1_SnapshotRequest__Output, _hoist_agent_v1_SnapshotEvent>;
  
  /**
   * Fetches, verifies and unpacks a release beside the active one. No downtime.
   */
  Stage: grpc.handleServerStreamingCall<_hoist_agent_v1_StageRequest__Output, _hoist_agent_v1_StageEvent>;
  
  /**
   * Upgrades one service on this node along the catalog's path, rolling back on failure.
   */
  Upgrade: grpc.handleServerStreamingCall<_hoist_agent_v1_UpgradeRequest__Output, _hoist_agent_v1_UpgradeEvent>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  Drain: MethodDefinition<_hoist_agent_v1_DrainRequest, _hoist_agent_v1_DrainEvent, _hoist_agent_v1_DrainRequest__Output, _hoist_agent_v1_DrainEvent__Output>
  GetInventory: MethodDefinition<_hoist_agent_v1_GetInventoryRequest, _hoist_agent_v1_NodeInventory, _hoist_agent_v1_GetInventoryRequest__Output, _hoist_agent_v1_NodeInventory__Output>
  ListSnapshots: MethodDefinition<_hoist_agent_v1_ListSnapshotsRequest, _hoist_agent_v1_ListSnapshotsResponse, _hoist_agent_v1_ListSnapshotsRequest__Output, _hoist_agent_v1_ListSnapshotsResponse__Output>
  Rejoin: MethodDefinition<_hoist_agent_v1_RejoinRequest, _hoist_agent_v1_RejoinEvent, _hoist_agent_v1_RejoinRequest__Output, _hoist_agent_v1_RejoinEvent__Output>
  Restore: MethodDefinition<_hoist_agent_v1_RestoreRequest, _hoist_agent_v1_RestoreEvent, _hoist_agent_v1_RestoreRequest__Output, _hoist_agent_v1_RestoreEvent__Output>
  Rollback: MethodDefinition<_hoist_agent_v1_RollbackRequest, _hoist_agent_v1_UpgradeEvent, _hoist_agent_v1_RollbackRequest__Output, _hoist_agent_v1_UpgradeEvent__Output>
  Snapshot: MethodDefinition<_hoist_agent_v1_SnapshotRequest, _hoist_agent_v1_SnapshotEvent, _hoist_agent_v1_SnapshotRequest__Output, _hoist_agent_v1_SnapshotEvent__Output>
  Stage: MethodDefinition<_hoist_agent_v1_StageRequest, _hoist_agent_v1_StageEvent, _hoist_agent_v1_StageRequest__Output, _hoist_agent_v1_StageEvent__Output>
  Upgrade: MethodDefinition<_hoist_agent_v1_UpgradeRequest, _hoist_agent_v1_UpgradeEvent, _hoist_agent_v1_UpgradeRequest__Output, _hoist_agent_v1_UpgradeEvent__Output>
}
