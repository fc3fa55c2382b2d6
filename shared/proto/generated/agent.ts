import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.ts';
import type { AgentClient as _hoist_agent_v1_AgentClient, AgentDefinition as _hoist_agent_v1_AgentDefinition } from './hoist/agent/v1/Agent.ts';
import type { Artifact as _hoist_agent_v1_Artifact, Artifact__Output as _hoist_agent_v1_Artifact__Output } from './hoist/agent/v1/Artifact.ts';
import type { Disk as _hoist_agent_v1_Disk, Disk__Output as _hoist_agent_v1_Disk__Output } from './hoist/agent/v1/Disk.ts';
import type { Done as _hoist_agent_v1_Done, Done__Output as _hoist_agent_v1_Done__Output } from './hoist/agent/v1/Done.ts';
import type { DrainEvent as _hoist_agent_v1_DrainEvent, DrainEvent__Output as _hoist_agent_v1_DrainEvent__Output } from './hoist/agent/v1/DrainEvent.ts';
import type { DrainRequest as _hoist_agent_v1_DrainRequest, DrainRequest__Output as _hoist_agent_v1_DrainRequest__Output } from './hoist/agent/v1/DrainRequest.ts';
import type { ErrorInfo as _hoist_agent_v1_ErrorInfo, ErrorInfo__Output as _hoist_agent_v1_ErrorInfo__Output } from './hoist/agent/v1/ErrorInfo.ts';
import type { GetInventoryRequest as _hoist_agent_v1_GetInventoryRequest, GetInventoryRequest__Output as _hoist_agent_v1_GetInventoryRequest__Output } from './hoist/agent/v1/GetInventoryRequest.ts';
import type { Hop as _hoist_agent_v1_Hop, Hop__Output as _hoist_agent_v1_Hop__Output } from './hoist/agent/v1/Hop.ts';
import type { HostFacts as _hoist_agent_v1_HostFacts, HostFacts__Output as _hoist_agent_v1_HostFacts__Output } from './hoist/agent/v1/HostFacts.ts';
import type { ListSnapshotsRequest as _hoist_agent_v1_ListSnapshotsRequest, ListSnapshotsRequest__Output as _hoist_agent_v1_ListSnapshotsRequest__Output } from './hoist/agent/v1/ListSnapshotsRequest.ts';
import type { ListSnapshotsResponse as _hoist_agent_v1_ListSnapshotsResponse, ListSnapshotsResponse__Output as _hoist_agent_v1_ListSnapshotsResponse__Output } from './hoist/agent/v1/ListSnapshotsResponse.ts';
import type { NodeInventory as _hoist_agent_v1_NodeInventory, NodeInventory__Output as _hoist_agent_v1_NodeInventory__Output } from './hoist/agent/v1/NodeInventory.ts';
import type { Progress as _hoist_agent_v1_Progress, Progress__Output as _hoist_agent_v1_Progress__Output } from './hoist/agent/v1/Progress.ts';
import type { RejoinEvent as _hoist_agent_v1_RejoinEvent, RejoinEvent__Output as _hoist_agent_v1_RejoinEvent__Output } from './hoist/agent/v1/RejoinEvent.ts';
import type { RejoinRequest as _hoist_agent_v1_RejoinRequest, RejoinRequest__Output as _hoist_agent_v1_RejoinRequest__Output } from './hoist/agent/v1/RejoinRequest.ts';
import type { ReleaseOnDisk as _hoist_agent_v1_ReleaseOnDisk, ReleaseOnDisk__Output as _hoist_agent_v1_ReleaseOnDisk__Output } from './hoist/agent/v1/ReleaseOnDisk.ts';
import type { RestoreEvent as _hoist_agent_v1_RestoreEvent, RestoreEvent__Output as _hoist_agent_v1_RestoreEvent__Output } from './hoist/agent/v1/RestoreEvent.ts';
import type { RestoreRequest as _hoist_agent_v1_RestoreRequest, RestoreRequest__Output as _hoist_agent_v1_RestoreRequest__Output } from './hoist/agent/v1/RestoreRequest.ts';
import type { RollbackRequest as _hoist_agent_v1_RollbackRequest, RollbackRequest__Output as _hoist_agent_v1_RollbackRequest__Output } from './hoist/agent/v1/RollbackRequest.ts';
import type { ServiceInventory as _hoist_agent_v1_ServiceInventory, ServiceInventory__Output as _hoist_agent_v1_ServiceInventory__Output } from './hoist/agent/v1/ServiceInventory.ts';
import type { SnapshotEvent as _hoist_agent_v1_SnapshotEvent, SnapshotEvent__Output as _hoist_agent_v1_SnapshotEvent__Output } from './hoist/agent/v1/SnapshotEvent.ts';
import type { SnapshotRequest as _hoist_agent_v1_SnapshotRequest, SnapshotRequest__Output as _hoist_agent_v1_SnapshotRequest__Output } from './hoist/agent/v1/SnapshotRequest.ts';
import type { SnapshotSummary as _hoist_agent_v1_SnapshotSummary, SnapshotSummary__Output as _hoist_agent_v1_SnapshotSummary__Output } from './hoist/agent/v1/SnapshotSummary.ts';
import type { StageEvent as _hoist_agent_v1_StageEvent, StageEvent__Output as _hoist_agent_v1_StageEvent__Output } from './hoist/agent/v1/StageEvent.ts';
import type { StageRequest as _hoist_agent_v1_StageRequest, StageRequest__Output as _hoist_agent_v1_StageRequest__Output } from './hoist/agent/v1/StageRequest.ts';
import type { UpgradeEvent as _hoist_agent_v1_UpgradeEvent, UpgradeEvent__Output as _hoist_agent_v1_UpgradeEvent__Output } from './hoist/agent/v1/UpgradeEvent.ts';
import type { UpgradeOutcome as _hoist_agent_v1_UpgradeOutcome, UpgradeOutcome__Output as _hoist_agent_v1_UpgradeOutcome__Output } from './hoist/agent/v1/UpgradeOutcome.ts';
import type { UpgradeRequest as _hoist_agent_v1_UpgradeRequest, UpgradeRequest__Output as _hoist_agent_v1_UpgradeRequest__Output } from './hoist/agent/v1/UpgradeRequest.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  hoist: {
    agent: {
      v1: {
        /**
         * The operations of one node's agent.
         */
        Agent: SubtypeConstructor<typeof grpc.Client, _hoist_agent_v1_AgentClient> & { service: _hoist_agent_v1_AgentDefinition }
        Artifact: MessageTypeDefinition<_hoist_agent_v1_Artifact, _hoist_agent_v1_Artifact__Output>
        Compression: EnumTypeDefinition
        Disk: MessageTypeDefinition<_hoist_agent_v1_Disk, _hoist_agent_v1_Disk__Output>
        Done: MessageTypeDefinition<_hoist_agent_v1_Done, _hoist_agent_v1_Done__Output>
        DrainEvent: MessageTypeDefinition<_hoist_agent_v1_DrainEvent, _hoist_agent_v1_DrainEvent__Output>
        DrainRequest: MessageTypeDefinition<_hoist_agent_v1_DrainRequest, _hoist_agent_v1_DrainRequest__Output>
        ErrorInfo: MessageTypeDefinition<_hoist_agent_v1_ErrorInfo, _hoist_agent_v1_ErrorInfo__Output>
        GetInventoryRequest: MessageTypeDefinition<_hoist_agent_v1_GetInventoryRequest, _hoist_agent_v1_GetInventoryRequest__Output>
        Hop: MessageTypeDefinition<_hoist_agent_v1_Hop, _hoist_agent_v1_Hop__Output>
        HostFacts: MessageTypeDefinition<_hoist_agent_v1_HostFacts, _hoist_agent_v1_HostFacts__Output>
        ListSnapshotsRequest: MessageTypeDefinition<_hoist_agent_v1_ListSnapshotsRequest, _hoist_agent_v1_ListSnapshotsRequest__Output>
        ListSnapshotsResponse: MessageTypeDefinition<_hoist_agent_v1_ListSnapshotsResponse, _hoist_agent_v1_ListSnapshotsResponse__Output>
        NodeInventory: MessageTypeDefinition<_hoist_agent_v1_NodeInventory, _hoist_agent_v1_NodeInventory__Output>
        Progress: MessageTypeDefinition<_hoist_agent_v1_Progress, _hoist_agent_v1_Progress__Output>
        RejoinEvent: MessageTypeDefinition<_hoist_agent_v1_RejoinEvent, _hoist_agent_v1_RejoinEvent__Output>
        RejoinRequest: MessageTypeDefinition<_hoist_agent_v1_RejoinRequest, _hoist_agent_v1_RejoinRequest__Output>
        ReleaseOnDisk: MessageTypeDefinition<_hoist_agent_v1_ReleaseOnDisk, _hoist_agent_v1_ReleaseOnDisk__Output>
        RestoreEvent: MessageTypeDefinition<_hoist_agent_v1_RestoreEvent, _hoist_agent_v1_RestoreEvent__Output>
        RestoreRequest: MessageTypeDefinition<_hoist_agent_v1_RestoreRequest, _hoist_agent_v1_RestoreRequest__Output>
        RollbackRequest: MessageTypeDefinition<_hoist_agent_v1_RollbackRequest, _hoist_agent_v1_RollbackRequest__Output>
        ServiceActivity: EnumTypeDefinition
        ServiceInventory: MessageTypeDefinition<_hoist_agent_v1_ServiceInventory, _hoist_agent_v1_ServiceInventory__Output>
        ServingStatus: EnumTypeDefinition
        SnapshotEvent: MessageTypeDefinition<_hoist_agent_v1_SnapshotEvent, _hoist_agent_v1_SnapshotEvent__Output>
        SnapshotRequest: MessageTypeDefinition<_hoist_agent_v1_SnapshotRequest, _hoist_agent_v1_SnapshotRequest__Output>
        SnapshotSummary: MessageTypeDefinition<_hoist_agent_v1_SnapshotSummary, _hoist_agent_v1_SnapshotSummary__Output>
        StageEvent: MessageTypeDefinition<_hoist_agent_v1_StageEvent, _hoist_agent_v1_StageEvent__Output>
        StageRequest: MessageTypeDefinition<_hoist_agent_v1_StageRequest, _hoist_agent_v1_StageRequest__Output>
        UpgradeEvent: MessageTypeDefinition<_hoist_agent_v1_UpgradeEvent, _hoist_agent_v1_UpgradeEvent__Output>
        UpgradeOutcome: MessageTypeDefinition<_hoist_agent_v1_UpgradeOutcome, _hoist_agent_v1_UpgradeOutcome__Output>
        UpgradeRequest: MessageTypeDefinition<_hoist_agent_v1_UpgradeRequest, _hoist_agent_v1_UpgradeRequest__Output>
        UpgradeResult: EnumTypeDefinition
      }
    }
  }
}

