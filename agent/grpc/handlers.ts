import type * as grpc from "@grpc/grpc-js";
import type { NodeAgentApi } from "../node-agent-api.ts";
import { HoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import {
  drainRequestSchema,
  listSnapshotsRequestSchema,
  parseRequest,
  rejoinRequestSchema,
  restoreRequestSchema,
  rollbackRequestSchema,
  snapshotRequestSchema,
  stageRequestSchema,
  toWireInventory,
  toWireOutcome,
  toWireProgress,
  toWireRelease,
  toWireSnapshot,
  upgradeRequestSchema,
  type AgentHandlers,
  type WireProgress,
} from "../../shared/proto/index.ts";
import { createCallSignal } from "./call-signal.ts";
import { toGrpcStatus } from "./errors.ts";

export interface HandlerContext {
  /** Aborts every operation in flight when the server stops. */
  root: AbortSignal;
  logger: Logger;
  /** Registers an operation so stop() can wait for it to report its end. */
  track(work: Promise<unknown>): void;
}

/** A streamed event: progress, or the final result. */
type Event<R> = { progress: WireProgress } | { result: R };

/**
 * The hoist.agent.v1.Agent handlers, each a thin adapter: validate the request (INVALID_ARGUMENT),
 * check the cluster when the request names one (WRONG_CLUSTER), call the NodeAgentApi method with
 * a signal tied to the call, stream progress, send the one result, map errors in one place.
 */
export function createAgentHandlers(agent: NodeAgentApi, context: HandlerContext): AgentHandlers {
  const { logger } = context;

  function unary<Res>(callback: grpc.sendUnaryData<Res>, work: () => Promise<Res>): void {
    const done = work().then(
      (response) => callback(null, response),
      (err: unknown) => callback(toGrpcStatus(err, { logger })),
    );
    context.track(done);
  }

  function stream<R>(call: grpc.ServerWritableStream<unknown, Event<R>>, work: (options: WorkOptions) => Promise<R>): void {
    const { signal, dispose } = createCallSignal(call, context.root);
    const onProgress: WorkOptions["onProgress"] = (progress) => {
      if (!call.cancelled && !call.writableEnded) call.write({ progress: toWireProgress(progress) });
    };
    const done = (async () => work({ signal, onProgress }))().then(
      (result) => {
        dispose();
        call.write({ result });
        call.end();
      },
      (err: unknown) => {
        dispose();
        call.emit("error", toGrpcStatus(err, { logger }));
      },
    );
    context.track(done);
  }

  function checkCluster(cluster: string | undefined): void {
    if (cluster !== undefined && cluster !== agent.cluster) {
      throw new HoistError("WRONG_CLUSTER", `this agent (node ${agent.node}) belongs to cluster ${agent.cluster}, not ${cluster}`, {
        details: { cluster: agent.cluster, requested: cluster },
      });
    }
  }

  return {
    GetInventory(_call, callback) {
      unary(callback, async () => toWireInventory(await agent.inventory()));
    },
    ListSnapshots(call, callback) {
      unary(callback, async () => {
        const request = parseRequest(listSnapshotsRequestSchema, call.request, "ListSnapshotsRequest");
        return { snapshots: (await agent.listSnapshots(request.service)).map(toWireSnapshot) };
      });
    },
    Stage(call) {
      stream(call, async (options) => {
        const request = parseRequest(stageRequestSchema, call.request, "StageRequest");
        checkCluster(request.cluster);
        return toWireRelease(await agent.stage(request.service, request.version, options));
      });
    },
    Snapshot(call) {
      stream(call, async (options) => {
        const request = parseRequest(snapshotRequestSchema, call.request, "SnapshotRequest");
        checkCluster(request.cluster);
        return toWireSnapshot(await agent.snapshot(request.service, { ...options, label: request.label }));
      });
    },
    Restore(call) {
      stream(call, async (options) => {
        const request = parseRequest(restoreRequestSchema, call.request, "RestoreRequest");
        checkCluster(request.cluster);
        await agent.restore(request.service, request.snapshotId, options);
        return { service: request.service };
      });
    },
    Upgrade(call) {
      stream(call, async (options) => {
        const { cluster, ...request } = parseRequest(upgradeRequestSchema, call.request, "UpgradeRequest");
        checkCluster(cluster);
        return toWireOutcome(await agent.upgrade(request, options));
      });
    },
    Rollback(call) {
      stream(call, async (options) => {
        const request = parseRequest(rollbackRequestSchema, call.request, "RollbackRequest");
        checkCluster(request.cluster);
        return toWireOutcome(await agent.rollback(request.service, { ...options, key: request.key }));
      });
    },
    Drain(call) {
      stream(call, async (options) => {
        const request = parseRequest(drainRequestSchema, call.request, "DrainRequest");
        checkCluster(request.cluster);
        await agent.drain(request.service, options);
        return { service: request.service };
      });
    },
    Rejoin(call) {
      stream(call, async (options) => {
        const request = parseRequest(rejoinRequestSchema, call.request, "RejoinRequest");
        checkCluster(request.cluster);
        await agent.rejoin(request.service, options);
        return { service: request.service };
      });
    },
  };
}
