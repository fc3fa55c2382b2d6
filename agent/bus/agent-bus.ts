import type { NatsConnection, Service, KV } from "nats";
import type { Logger } from "../../shared/logger/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import {
  AGENT_SERVICE_NAME,
  AGENT_VERBS,
  agentEventsSubject,
  commandSubject,
  decodeJson,
  encodeJson,
  errorReply,
  inventoryKey,
  okReply,
  parseMessage,
  serviceCommandSchema,
  rollbackCommandSchema,
  stageCommandSchema,
  upgradeCommandSchema,
  commandEnvelopeSchema,
  type AgentVerb,
} from "../../shared/bus/index.ts";
import type { Progress } from "../../shared/types/index.ts";
import type { NodeAgentApi } from "../node-agent-api.ts";

export interface AgentBusOptions {
  agentVersion: string;
  /** How often the inventory (and its last-seen time) is written to KV. */
  heartbeatMs?: number;
  /** Extra actions the bus can call (stop and start are not in NodeAgentApi). */
  stopService?: (service: string, signal?: AbortSignal) => Promise<void>;
  startService?: (service: string, signal?: AbortSignal) => Promise<void>;
}

type Handler = (payload: unknown) => Promise<unknown>;

/**
 * The agent on NATS: answers step commands on `hoist.v1.CLUSTER.NODE.cmd.VERB` as a NATS micro
 * service (so `$SRV.PING` finds it), refuses commands for another cluster, publishes progress
 * events, and keeps its inventory fresh in KV with a last-seen time.
 */
export class AgentBus {
  private service: Service | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly agent: NodeAgentApi,
    private readonly nc: NatsConnection,
    private readonly inventoryKv: KV,
    private readonly logger: Logger,
    private readonly options: AgentBusOptions,
  ) {}

  async start(): Promise<void> {
    const { cluster, node } = this.agent;
    this.service = await this.nc.services.add({
      name: AGENT_SERVICE_NAME,
      version: this.options.agentVersion,
      description: `Hoist agent of node ${node} in cluster ${cluster}`,
      metadata: { cluster, node },
    });
    const handlers = this.handlers();
    for (const verb of AGENT_VERBS) {
      this.service.addEndpoint(verb, {
        subject: commandSubject(cluster, node, verb),
        metadata: { cluster, node },
        handler: (err, msg) => {
          if (err) return void this.logger.warn({ err }, "endpoint error");
          void this.dispatch(verb, handlers[verb], msg.data).then((reply) => msg.respond(encodeJson(reply)));
        },
      });
    }
    await this.publishInventory();
    this.heartbeat = setInterval(() => void this.publishInventory(), this.options.heartbeatMs ?? 2000);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.service?.stop().catch(() => undefined);
  }

  private async dispatch(verb: AgentVerb, handler: Handler, data: Uint8Array) {
    try {
      const payload = data.length > 0 ? decodeJson(data) : {};
      const envelope = parseMessage(commandEnvelopeSchema, payload);
      if (envelope.cluster !== this.agent.cluster) {
        throw new HoistError("WRONG_CLUSTER", `node ${this.agent.node} belongs to cluster ${this.agent.cluster}, not ${envelope.cluster}; command refused`);
      }
      const result = await handler(payload);
      return okReply(result ?? null);
    } catch (err) {
      this.logger.warn({ err, verb }, "command failed");
      return errorReply(err);
    } finally {
      if (verb !== "inventory" && verb !== "health") void this.publishInventory();
    }
  }

  private progressPublisher(verb: string, key: string | undefined) {
    const subject = agentEventsSubject(this.agent.cluster, this.agent.node);
    return (progress: Progress) => {
      this.nc.publish(subject, encodeJson({ type: "progress", node: this.agent.node, verb, key, at: new Date().toISOString(), ...progress }));
    };
  }

  private handlers(): Record<AgentVerb, Handler> {
    const agent = this.agent;
    const signal = this.abort.signal;
    return {
      inventory: async () => agent.inventory(),
      health: async (payload) => {
        const command = parseMessage(serviceCommandSchema, payload);
        return { service: command.service, status: agent.health(command.service) };
      },
      stage: async (payload) => {
        const command = parseMessage(stageCommandSchema, payload);
        return agent.stage(command.service, command.version, {
          signal,
          onProgress: this.progressPublisher("stage", command.key),
          ...(command.artifact ? { artifact: command.artifact } : {}),
        });
      },
      upgrade: async (payload) => {
        const command = parseMessage(upgradeCommandSchema, payload);
        return agent.upgrade(
          {
            service: command.service,
            to: command.to,
            allowDowngrade: command.allowDowngrade,
            skipDrain: command.skipDrain,
            ...(command.key ? { key: command.key } : {}),
            ...(command.release ? { release: command.release } : {}),
          },
          { signal, onProgress: this.progressPublisher("upgrade", command.key) },
        );
      },
      rollback: async (payload) => {
        const command = parseMessage(rollbackCommandSchema, payload);
        return agent.rollback(command.service, {
          signal,
          onProgress: this.progressPublisher("rollback", command.key),
          ...(command.key ? { key: command.key } : {}),
          ...(command.to ? { to: command.to } : {}),
        });
      },
      drain: async (payload) => agent.drain(parseMessage(serviceCommandSchema, payload).service, { signal }),
      rejoin: async (payload) => agent.rejoin(parseMessage(serviceCommandSchema, payload).service, { signal }),
      stop: async (payload) => {
        const command = parseMessage(serviceCommandSchema, payload);
        if (!this.options.stopService) throw new HoistError("INVALID_ARGUMENT", "this agent cannot stop services on command");
        await this.options.stopService(command.service, signal);
      },
      start: async (payload) => {
        const command = parseMessage(serviceCommandSchema, payload);
        if (!this.options.startService) throw new HoistError("INVALID_ARGUMENT", "this agent cannot start services on command");
        await this.options.startService(command.service, signal);
      },
    };
  }

  /** Writes the inventory with a last-seen time; a failure is logged, the next heartbeat retries. */
  async publishInventory(): Promise<void> {
    try {
      const inventory = await this.agent.inventory();
      await this.inventoryKv.put(inventoryKey(this.agent.cluster, this.agent.node), encodeJson({ ...inventory, lastSeen: new Date().toISOString() }));
    } catch (err) {
      if (!this.abort.signal.aborted) this.logger.debug({ err }, "inventory heartbeat failed");
    }
  }
}
