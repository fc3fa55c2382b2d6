import type { NatsConnection } from "nats";
import { AgentBus } from "../../agent/bus/agent-bus.ts";
import { startAgentGrpcServer, type AgentGrpcServer } from "../../agent/grpc/server.ts";
import { connectBus, ensureEventsStream, openBuckets } from "../../shared/bus/index.ts";
import { silentLogger, type Logger } from "../../shared/logger/index.ts";
import { SimNodeAgent, type StepRecord } from "./sim-node-agent.ts";
import { parseTimings, seededRandom, type SimStep } from "./timing.ts";

export interface FleetOptions {
  /** NATS servers every simulated agent connects to (each on its own connection). */
  servers: string[];
  cluster: string;
  /** How many agents. */
  nodes: number;
  /** Node ids are PREFIX + zero-padded index from 1 (default "sim-": sim-0001 ...). */
  nodePrefix?: string;
  service?: string;
  /** Version every node runs at start. */
  version: string;
  /** Step-time specs per step (see timing.ts); missing steps take the defaults. */
  timings?: Partial<Record<SimStep, string>>;
  seed?: number;
  /** Inventory heartbeat of each agent (the real agent's default: 2000 ms). */
  heartbeatMs?: number;
  /** Chance (0..1) that an upgrade fails and is rolled back by the agent. */
  upgradeFailRate?: number;
  /** Agents started at once while the fleet joins (default 25). */
  joinConcurrency?: number;
  agentVersion?: string;
  logger?: Logger;
  /** Called after each agent joined (count so far). */
  onJoin?: (joined: number) => void;
  /** Called with every step of work as it finishes (also kept in `records`). */
  onStep?: (record: StepRecord) => void;
}

/** One simulated agent: its node API, its own NATS connection, its real gRPC server and real bus. */
export interface SimAgent {
  node: string;
  agent: SimNodeAgent;
  nc: NatsConnection;
  grpc: AgentGrpcServer;
  bus: AgentBus;
}

export interface Fleet {
  agents: SimAgent[];
  /** Every step of work done so far, in the order it finished. */
  records: StepRecord[];
  /** Adds agents up to `total` (the fleet grows as a real one does: each joins on its own). */
  grow(total: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a simulated fleet in this process. Each agent is wired exactly as `hoist agent run` wires a
 * real one (agent/main.ts): its own NATS connection (`connectBus`, reconnecting forever), the
 * buckets and events stream opened the same way, the real `AgentBus` (NATS micro service
 * `hoist-agent`, the command verbs, progress events, inventory heartbeat in KV) and the real gRPC
 * server (`hoist.agent.v1.Agent`, `grpc.health.v1.Health`, reflection) on its own loopback port,
 * insecure. Only the node underneath is simulated (SimNodeAgent): no disk, step times drawn from
 * the configured distributions.
 *
 * One gRPC server per agent, not one shared: the coordinator's health gate dials the address each
 * node publishes and watches the service by its name (`kv`), the same name on every node. A shared
 * server could only tell nodes apart by the dialed authority (`call.getHost()`) and would need a
 * health service of its own; a server per agent runs the agent's real server code unchanged.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const logger = options.logger ?? silentLogger();
  const timings = parseTimings(options.timings);
  const prefix = options.nodePrefix ?? "sim-";
  const width = Math.max(4, String(options.nodes).length);
  const agents: SimAgent[] = [];
  const records: StepRecord[] = [];
  const agentVersion = options.agentVersion ?? "0.1.0-sim";

  const startOne = async (index: number): Promise<SimAgent> => {
    const node = `${prefix}${String(index).padStart(width, "0")}`;
    const nc = await connectBus({ servers: options.servers, name: `hoist-agent ${options.cluster}/${node}`, reconnectForever: true });
    try {
      const buckets = await openBuckets(nc);
      await ensureEventsStream(await nc.jetstreamManager());
      const agent = new SimNodeAgent({
        node,
        cluster: options.cluster,
        service: options.service ?? "kv",
        version: options.version,
        timings,
        // one generator per node: a node draws the same times whatever the other nodes do
        random: seededRandom((options.seed ?? 1) * 100_003 + index),
        agentVersion,
        ...(options.upgradeFailRate === undefined ? {} : { upgradeFailRate: options.upgradeFailRate }),
        onStep: (record) => {
          records.push(record);
          options.onStep?.(record);
        },
      });
      const grpc = await startAgentGrpcServer(agent, { listen: "127.0.0.1:0", insecure: true }, logger.child({ node }));
      agent.setGrpcAddress(grpc.address);
      const bus = new AgentBus(agent, nc, buckets.inventory, logger.child({ node }), {
        agentVersion,
        heartbeatMs: options.heartbeatMs ?? 2000,
        stopService: (service, signal) => agent.stopService(service, signal),
        startService: (service, signal) => agent.startService(service, signal),
      });
      await bus.start();
      return { node, agent, nc, grpc, bus };
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  };

  const grow = async (total: number): Promise<void> => {
    const concurrency = options.joinConcurrency ?? 25;
    let next = agents.length + 1;
    const worker = async () => {
      while (next <= total) {
        const index = next++;
        agents.push(await startOne(index));
        options.onJoin?.(agents.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, total - agents.length) }, worker));
    agents.sort((a, b) => a.node.localeCompare(b.node));
  };

  const stop = async (): Promise<void> => {
    await Promise.allSettled(
      agents.map(async (sim) => {
        await sim.bus.stop();
        await sim.grpc.stop({ graceMs: 0 });
        await sim.nc.close();
      }),
    );
  };

  try {
    await grow(options.nodes);
  } catch (err) {
    await stop();
    throw err;
  }
  return { agents, records, grow, stop };
}
