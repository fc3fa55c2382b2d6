import { join } from "node:path";
import type { Logger } from "../shared/logger/index.ts";
import { connectBus, ensureEventsStream, openBuckets } from "../shared/bus/index.ts";
import type { AgentConfig } from "./config.ts";
import { NodeAgent, AGENT_VERSION } from "./node-agent.ts";
import { HostFactsCache } from "./host/facts.ts";
import { startAgentGrpcServer } from "./grpc/server.ts";
import { AgentBus } from "./bus/agent-bus.ts";
import { KvClusterOnceGate } from "./bus/cluster-once-gate.ts";
import { readPeersInService } from "./bus/peers.ts";
import { boundedStep, closeConnection } from "./bus/close-connection.ts";
import { startUnattendedLoop } from "./unattended/start-loop.ts";

/** Grace of each shutdown step (bus, gRPC) before the agent goes on stopping. */
const STOP_STEP_MS = 1000;

export interface RunningAgent {
  agent: NodeAgent;
  grpcAddress?: string;
  /** HOST:PORT of the metrics listener, when `metrics:` is configured. */
  metricsAddress?: string;
  stop(): Promise<void>;
}

/**
 * Wires the agent daemon: host facts cache, NodeAgent (resumes interrupted operations), gRPC server
 * when `grpc:` is configured, NATS bus when `nats:` is configured, Prometheus metrics when `metrics:` is
 * configured. Only wiring lives here.
 */
export async function runAgent(config: AgentConfig, logger: Logger): Promise<RunningAgent> {
  const hostFacts = new HostFactsCache({ paths: config.services.flatMap((service) => [service.installRoot, ...service.dataDirs]), logger });
  await hostFacts.start();

  const nc = config.nats
    ? await connectBus({ servers: [...config.nats.servers], ...(config.nats.token ? { token: config.nats.token } : {}), name: `hoist-agent ${config.cluster}/${config.node}`, reconnectForever: true })
    : undefined;
  const buckets = nc ? await openBuckets(nc) : undefined;
  if (nc) await ensureEventsStream(await nc.jetstreamManager());

  const agent = new NodeAgent(config, {
    logger,
    hostFacts: () => hostFacts.get(),
    monitorHealth: true,
    command: "hoist agent run",
    ...(buckets ? { clusterOnce: new KvClusterOnceGate(buckets.migrations, config.cluster, config.node, { logger }) } : {}),
    ...(buckets ? { peers: (service: string) => readPeersInService(buckets.inventory, config.cluster, config.node, service) } : {}),
  });
  await agent.start();

  const grpc = config.grpc ? await startAgentGrpcServer(agent, config.grpc, logger) : undefined;
  if (grpc) agent.setGrpcAddress(grpc.address);
  // Before the bus publishes the inventory: whoever sees the node in KV can scrape it.
  // Imported only when on: prom-client takes ~40 ms to load, which every `hoist` command would pay.
  const metrics = config.metrics
    ? await (await import("./metrics/serve-agent-metrics.ts")).serveAgentMetrics(agent, config, config.metrics.listen, nc, logger).catch(async (err: unknown) => {
        // Nothing is left holding the process: the error ends it.
        await boundedStep(grpc?.stop() ?? Promise.resolve(), STOP_STEP_MS);
        await agent.stop();
        hostFacts.stop();
        if (nc) await closeConnection(nc);
        throw err;
      })
    : undefined;
  const bus =
    nc && buckets
      ? new AgentBus(agent, nc, buckets.inventory, logger, {
          agentVersion: AGENT_VERSION,
          stopService: (service, signal) => agent.stopService(service, signal ? { signal } : {}),
          startService: (service, signal) => agent.startService(service, signal ? { signal } : {}),
          outcomesDir: join(config.stateDir, "bus-outcomes"),
        })
      : undefined;
  await bus?.start();
  const unattended = nc ? await startUnattendedLoop(config, agent, nc, logger) : undefined;
  logger.info({ node: config.node, cluster: config.cluster, grpc: grpc?.address, nats: config.nats?.servers, metrics: metrics?.address }, "agent running");

  return {
    agent,
    ...(grpc ? { grpcAddress: grpc.address } : {}),
    ...(metrics ? { metricsAddress: metrics.address } : {}),
    /**
     * Stops within a bounded time even while NATS is unreachable: the bus and gRPC get a bounded
     * grace, NATS a bounded drain and then close (which also ends its reconnect loop).
     */
    async stop() {
      await metrics?.stop();
      await boundedStep(unattended?.stop() ?? Promise.resolve(), STOP_STEP_MS);
      await boundedStep(bus?.stop() ?? Promise.resolve(), STOP_STEP_MS);
      await boundedStep(grpc?.stop() ?? Promise.resolve(), STOP_STEP_MS);
      await agent.stop();
      hostFacts.stop();
      if (nc) await closeConnection(nc);
    },
  };
}
