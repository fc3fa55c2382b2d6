import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { NodeAgentApi } from "../node-agent-api.ts";
import { HoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { AGENT_GRPC_SERVICE_NAME, HEALTH_SERVICE_NAME, loadHoistProto, reflectionDefinition } from "../../shared/proto/index.ts";
import { resolveGrpcSecurity, type AgentGrpcConfig } from "./auth.ts";
import { createCallTracker } from "./call-tracker.ts";
import { createAgentHandlers } from "./handlers.ts";
import { createAgentHealth } from "./health.ts";

export type { AgentGrpcConfig } from "./auth.ts";

/** A running agent gRPC server. */
export interface AgentGrpcServer {
  /** Port bound (useful with listen PORT 0). */
  port: number;
  /** HOST:PORT clients dial (listen with the bound port). */
  address: string;
  /**
   * Stops serving: health "" turns NOT_SERVING, operations in flight are aborted (their signal
   * carries CANCELLED "the agent is shutting down") and get up to `graceMs` (default 5000) to report
   * their end; then open calls (health Watch streams) end with UNAVAILABLE and the server shuts down.
   * Idempotent.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Serves `agent` on `config.listen`: hoist.agent.v1.Agent, grpc.health.v1.Health and server
 * reflection (v1 and v1alpha, describing Agent and Health with the files protoc compiles from proto/,
 * see shared/proto/reflection-files.ts), all behind the auth of agent/grpc/auth.ts.
 * Throws CONFIG_INVALID when the security settings are not allowed (see auth.ts) and UNAVAILABLE
 * when the address cannot be bound.
 */
export async function startAgentGrpcServer(agent: NodeAgentApi, config: AgentGrpcConfig, logger: Logger): Promise<AgentGrpcServer> {
  const log = logger.child({ component: "grpc" });
  const security = await resolveGrpcSecurity(config, log);
  const { grpcObject } = loadHoistProto();
  const tracker = createCallTracker(log);
  const root = new AbortController();
  const inflight = new Set<Promise<unknown>>();

  const server = new grpc.Server({
    interceptors: security.interceptor ? [tracker.interceptor, security.interceptor] : [tracker.interceptor],
  });
  server.addService(
    grpcObject.hoist.agent.v1.Agent.service,
    createAgentHandlers(agent, {
      root: root.signal,
      logger: log,
      track(work) {
        inflight.add(work);
        const forget = () => inflight.delete(work);
        work.then(forget, forget);
      },
    }),
  );
  const health = await createAgentHealth(agent, log);
  health.addToServer(server);
  new ReflectionService(reflectionDefinition(), { services: [AGENT_GRPC_SERVICE_NAME, HEALTH_SERVICE_NAME] }).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(config.listen, security.credentials, (err, bound) => {
      if (err) {
        reject(new HoistError("UNAVAILABLE", `cannot listen on ${config.listen}: ${err.message}; pick a free address in grpc.listen`, { cause: err }));
      } else resolve(bound);
    });
  }).catch((err: unknown) => {
    health.shutdown();
    server.forceShutdown();
    throw err;
  });
  const address = addressOf(config.listen, port);
  log.info({ address, mode: security.mode }, "agent gRPC server listening");

  let stopping: Promise<void> | undefined;
  const stop = async (graceMs: number): Promise<void> => {
    health.shutdown();
    root.abort(new HoistError("CANCELLED", "the agent is shutting down"));
    await Promise.race([Promise.allSettled([...inflight]), sleep(graceMs, undefined, { ref: false })]);
    tracker.endAll("the agent is shutting down: retry when it is back");
    const closed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    const timer = sleep(1000, "timeout" as const, { ref: false });
    if ((await Promise.race([closed, timer])) === "timeout") server.forceShutdown();
    log.info({ address }, "agent gRPC server stopped");
  };
  return {
    port,
    address,
    stop(options = {}) {
      stopping ??= stop(options.graceMs ?? 5000);
      return stopping;
    },
  };
}

function addressOf(listen: string, port: number): string {
  if (listen.startsWith("unix")) return listen;
  const bracketed = /^\[([^\]]*)\]/.exec(listen);
  if (bracketed) return `[${bracketed[1]}]:${port}`;
  const colon = listen.lastIndexOf(":");
  return `${colon === -1 ? listen : listen.slice(0, colon)}:${port}`;
}
