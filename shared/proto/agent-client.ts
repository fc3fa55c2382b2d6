import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { HoistError, throwIfAborted } from "../errors/index.ts";
import type { ProgressListener } from "../types/index.ts";
import type { AgentClient as GeneratedAgentClient } from "./generated/hoist/agent/v1/Agent.ts";
import type { HealthClient as GeneratedHealthClient } from "./generated/grpc/health/v1/Health.ts";
import type { Progress__Output } from "./generated/hoist/agent/v1/Progress.ts";
import type { NodeInventory__Output } from "./generated/hoist/agent/v1/NodeInventory.ts";
import type { ListSnapshotsResponse__Output } from "./generated/hoist/agent/v1/ListSnapshotsResponse.ts";
import type { HealthCheckResponse__Output } from "./generated/grpc/health/v1/HealthCheckResponse.ts";
import { fromWireInventory, fromWireOutcome, fromWireProgress, fromWireRelease, fromWireSnapshot, toWireUpgradeRequest } from "./convert.ts";
import { hoistErrorFromStatus } from "./errors.ts";
import { loadHoistProto } from "./load.ts";
import { quietIpServerNameWarning } from "./quiet-ip-servername.ts";
import type { HealthStatus, NodeInventory, ReleaseOnDisk, SnapshotSummary, UpgradeOutcome, UpgradeRequest } from "./types.ts";

/** How to reach and authenticate to an agent. Without `insecure`, the client uses TLS. */
export interface AgentClientOptions {
  /** Plaintext, no TLS: only for agents listening on loopback (grpc.insecure or a token). */
  insecure?: boolean;
  /** PEM file of the CA that signed the agent's certificate; default: the system's trusted CAs. */
  caFile?: string;
  /** PEM client certificate, for agents that require mutual TLS (with keyFile). */
  certFile?: string;
  /** PEM key of certFile. */
  keyFile?: string;
  /** Bearer token, sent as `authorization: Bearer TOKEN` on every call. */
  token?: string;
  /** Name the agent's certificate must carry, when it differs from the target's host. */
  serverName?: string;
  /** Sent with every operation; an agent of another cluster refuses it with WRONG_CLUSTER. */
  cluster?: string;
  /** Deadline of inventory, list and health check calls that name none. Default 10 000 ms. */
  defaultDeadlineMs?: number;
}

/** Options of a single call. Aborting the signal cancels the call (and the agent's work). */
export interface CallOptions {
  /** Fails the call with TIMEOUT after this many ms (sent to the agent as the gRPC deadline). */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** Options of a long operation: progress reports arrive through onProgress (errors it throws are ignored). */
export interface OperationOptions extends CallOptions {
  onProgress?: ProgressListener;
}

/**
 * A typed client of one agent's gRPC API (hoist.agent.v1.Agent and grpc.health.v1.Health over one
 * connection). Methods mirror NodeAgentApi. Every method rejects with HoistError: the agent's own
 * code when it sent one (trailer `hoist-error-code`), else one derived from the gRPC status
 * (UNAVAILABLE when unreachable, TIMEOUT on deadline, CANCELLED on abort, UNAUTHENTICATED ...).
 */
export interface AgentClient {
  readonly target: string;
  getInventory(options?: CallOptions): Promise<NodeInventory>;
  listSnapshots(service: string, options?: CallOptions): Promise<SnapshotSummary[]>;
  stage(service: string, version: string, options?: OperationOptions): Promise<ReleaseOnDisk>;
  snapshot(service: string, options?: OperationOptions & { label?: string }): Promise<SnapshotSummary>;
  restore(service: string, snapshotId: string, options?: OperationOptions): Promise<void>;
  /** Resolves with the outcome, rolled back or not; rejects only when the call itself failed. */
  upgrade(request: UpgradeRequest, options?: OperationOptions): Promise<UpgradeOutcome>;
  rollback(service: string, options?: OperationOptions & { key?: string }): Promise<UpgradeOutcome>;
  drain(service: string, options?: OperationOptions): Promise<void>;
  rejoin(service: string, options?: OperationOptions): Promise<void>;
  /** grpc.health.v1 Check: "" is the agent itself. Rejects NOT_FOUND for a name the agent does not manage. */
  check(service?: string, options?: CallOptions): Promise<HealthStatus>;
  /**
   * grpc.health.v1 Watch: yields the current status, then each change, until the signal aborts
   * (the iterator then ends quietly) or the call fails (it throws, e.g. UNAVAILABLE on agent stop).
   */
  watch(service: string, options?: { signal?: AbortSignal }): AsyncGenerator<HealthStatus, void, undefined>;
  /** Closes the connection; calls in flight fail with CANCELLED. */
  close(): void;
}

interface StreamEvent<R> {
  event?: "progress" | "result";
  progress?: Progress__Output | null;
  result?: R | null;
}

/**
 * Creates a client for the agent at `target` (HOST:PORT). Reads the PEM files now.
 * Throws INVALID_ARGUMENT when the options contradict each other or a file cannot be read.
 */
export function createAgentClient(target: string, options: AgentClientOptions = {}): AgentClient {
  const { grpcObject } = loadHoistProto();
  if (!options.insecure) quietIpServerNameWarning();
  const channelOptions: grpc.ChannelOptions = {};
  if (options.serverName) {
    channelOptions["grpc.ssl_target_name_override"] = options.serverName;
    channelOptions["grpc.default_authority"] = options.serverName;
  }
  const agent: GeneratedAgentClient = new grpcObject.hoist.agent.v1.Agent(target, makeCredentials(options), channelOptions);
  const health: GeneratedHealthClient = new grpcObject.grpc.health.v1.Health(target, grpc.credentials.createInsecure(), {
    channelOverride: agent.getChannel(),
  });
  const defaultDeadlineMs = options.defaultDeadlineMs ?? 10_000;
  const cluster = options.cluster;

  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    if (options.token) md.set("authorization", `Bearer ${options.token}`);
    return md;
  };
  const fail = (err: unknown, signal: AbortSignal | undefined): HoistError => {
    if (signal?.aborted) {
      try {
        throwIfAborted(signal);
      } catch (aborted) {
        return aborted as HoistError;
      }
    }
    return hoistErrorFromStatus(err as grpc.ServiceError, target);
  };

  /** Runs one unary call, bridging the signal to call.cancel() until it settles. */
  function unary<Res>(start: (md: grpc.Metadata, callOptions: grpc.CallOptions, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall, options: CallOptions = {}): Promise<Res> {
    const { signal } = options;
    throwIfAborted(signal);
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = start(metadata(), { deadline: Date.now() + (options.deadlineMs ?? defaultDeadlineMs) }, (err, response) => {
        signal?.removeEventListener("abort", onAbort);
        if (err || response === undefined) reject(fail(err ?? { code: grpc.status.INTERNAL, details: "empty response" }, signal));
        else resolve(response);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Runs one server-streaming operation: progress to onProgress, then the single result. */
  function operation<R, Out>(start: (md: grpc.Metadata, callOptions: grpc.CallOptions) => grpc.ClientReadableStream<StreamEvent<R>>, convert: (result: R) => Out, options: OperationOptions = {}): Promise<Out> {
    const { signal, onProgress } = options;
    throwIfAborted(signal);
    const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
    return new Promise<Out>((resolve, reject) => {
      const call = start(metadata(), callOptions);
      let result: R | undefined;
      let settled = false;
      const onAbort = () => call.cancel();
      const settle = (error: HoistError | undefined) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else if (result === undefined) reject(new HoistError("INTERNAL", `agent at ${target} ended the call without a result`));
        else {
          try {
            resolve(convert(result));
          } catch (err) {
            reject(err);
          }
        }
      };
      call.on("data", (message: StreamEvent<R>) => {
        if (message.event === "progress" && message.progress) {
          try {
            onProgress?.(fromWireProgress(message.progress));
          } catch {
            // A listener's failure must not break the operation it observes.
          }
        } else if (message.event === "result" && message.result) {
          result = message.result;
        }
      });
      call.on("error", (err: grpc.ServiceError) => settle(fail(err, signal)));
      call.on("end", () => settle(undefined));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async function* watch(service: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<HealthStatus, void, undefined> {
    const { signal } = options;
    if (signal?.aborted) return;
    const call = health.watch({ service }, metadata());
    const queue: HealthStatus[] = [];
    let failure: grpc.ServiceError | undefined;
    let ended = false;
    let wake: (() => void) | undefined;
    call.on("data", (message: { status: HealthStatus }) => {
      queue.push(message.status);
      wake?.();
    });
    call.on("error", (err: grpc.ServiceError) => {
      failure = err;
      wake?.();
    });
    call.on("end", () => {
      ended = true;
      wake?.();
    });
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (signal?.aborted) return;
        if (failure) throw hoistErrorFromStatus(failure, target);
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  return {
    target,
    async getInventory(options) {
      const wire = await unary<NodeInventory__Output>((md, co, cb) => agent.getInventory({}, md, co, cb), options);
      return fromWireInventory(wire);
    },
    async listSnapshots(service, options) {
      const wire = await unary<ListSnapshotsResponse__Output>((md, co, cb) => agent.listSnapshots({ service }, md, co, cb), options);
      return wire.snapshots.map(fromWireSnapshot);
    },
    stage(service, version, options) {
      return operation((md, co) => agent.stage({ service, version, cluster }, md, co), fromWireRelease, options);
    },
    snapshot(service, options) {
      return operation((md, co) => agent.snapshot({ service, label: options?.label, cluster }, md, co), fromWireSnapshot, options);
    },
    async restore(service, snapshotId, options) {
      await operation(
        (md, co) => agent.restore({ service, snapshotId, cluster }, md, co),
        () => undefined,
        options,
      );
    },
    upgrade(request, options) {
      return operation((md, co) => agent.upgrade(toWireUpgradeRequest(request, cluster), md, co), fromWireOutcome, options);
    },
    rollback(service, options) {
      return operation((md, co) => agent.rollback({ service, key: options?.key, cluster }, md, co), fromWireOutcome, options);
    },
    async drain(service, options) {
      await operation(
        (md, co) => agent.drain({ service, cluster }, md, co),
        () => undefined,
        options,
      );
    },
    async rejoin(service, options) {
      await operation(
        (md, co) => agent.rejoin({ service, cluster }, md, co),
        () => undefined,
        options,
      );
    },
    async check(service = "", options) {
      const response = await unary<HealthCheckResponse__Output>((md, co, cb) => health.check({ service }, md, co, cb), options);
      return response.status;
    },
    watch,
    close() {
      agent.close();
    },
  };
}

/** TLS (system roots or caFile, optional client cert) unless `insecure`. */
function makeCredentials(options: AgentClientOptions): grpc.ChannelCredentials {
  if (options.insecure) {
    if (options.caFile || options.certFile || options.keyFile) {
      throw new HoistError("INVALID_ARGUMENT", "insecure (plaintext) cannot be combined with a CA, certificate or key file: drop one");
    }
    return grpc.credentials.createInsecure();
  }
  if (Boolean(options.certFile) !== Boolean(options.keyFile)) {
    throw new HoistError("INVALID_ARGUMENT", "a client certificate needs its key: pass both the certificate and the key file");
  }
  const ca = options.caFile ? readPem(options.caFile, "CA") : null;
  const key = options.keyFile ? readPem(options.keyFile, "client key") : null;
  const cert = options.certFile ? readPem(options.certFile, "client certificate") : null;
  return grpc.credentials.createSsl(ca, key, cert);
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new HoistError("INVALID_ARGUMENT", `cannot read the ${what} file ${path}: ${(err as Error).message}`, { cause: err });
  }
}
