import type { NatsConnection, Service, KV } from "nats";
import type { Logger } from "../../shared/logger/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import {
  AGENT_MICRO_SERVICE_NAME,
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
  unwrapReply,
  type AgentVerb,
} from "../../shared/bus/index.ts";
import { KeyedOutcomes } from "./keyed-outcomes.ts";
import { operationSignal } from "./operation-signal.ts";
import type { Progress } from "../../shared/types/index.ts";
import type { NodeAgentApi } from "../node-agent-api.ts";

export interface AgentBusOptions {
  agentVersion: string;
  /**
   * How often the inventory is looked at (from the agent's cache: no disk scan) and written to KV
   * when it changed. Default 2000 ms.
   */
  heartbeatMs?: number;
  /**
   * Longest time between two writes when nothing changed: the write that refreshes `lastSeen`.
   * Readers call a node stale after 15 s (`hoist inventory`), 30 s (peers in service) or 60 s
   * (plan), so the default 5000 ms leaves two missed writes of margin.
   */
  keepaliveMs?: number;
  /** Extra actions the bus can call (stop and start are not in NodeAgentApi). */
  stopService?: (service: string, signal?: AbortSignal) => Promise<void>;
  startService?: (service: string, signal?: AbortSignal) => Promise<void>;
  /**
   * Where replies of stage, drain, rejoin, stop and start are recorded under their idempotency key
   * (upgrade and rollback are recorded by the NodeAgent's journal store). Without it, those verbs
   * run again on a repeated key.
   */
  outcomesDir?: string;
}

/** Handles one command; `signal` ends when the agent stops or the command's deadline passes. */
type Handler = (payload: unknown, signal: AbortSignal) => Promise<unknown>;

/** Verbs that only read: no key, no deadline. */
const READ_VERBS: readonly AgentVerb[] = ["inventory", "health"];

/**
 * The agent on NATS: answers step commands on `hoist.v1.CLUSTER.NODE.cmd.VERB` as a NATS micro
 * service (so `$SRV.PING` finds it), refuses commands for another cluster, publishes progress
 * events, and keeps its inventory fresh in KV with a last-seen time.
 */
export class AgentBus {
  private service: Service | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopHealthWatch: (() => void) | undefined;
  /** The last inventory written (without lastSeen) and when: an unchanged one is written again only at the keepalive. */
  private published: { json: string; at: number } | undefined;
  /** Writes run one after the other, so that an older inventory never lands after a newer one. */
  private publishing: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private readonly outcomes: KeyedOutcomes | undefined;
  /** Upgrades this bus started, by service: a rollback for the service stops them first. */
  private readonly upgrades = new Map<string, { abort(reason: HoistError): void; settled: Promise<unknown> }>();

  constructor(
    private readonly agent: NodeAgentApi,
    private readonly nc: NatsConnection,
    private readonly inventoryKv: KV,
    private readonly logger: Logger,
    private readonly options: AgentBusOptions,
  ) {
    this.outcomes = options.outcomesDir === undefined ? undefined : new KeyedOutcomes(options.outcomesDir);
  }

  async start(): Promise<void> {
    const { cluster, node } = this.agent;
    this.service = await this.nc.services.add({
      name: AGENT_MICRO_SERVICE_NAME,
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
    this.stopHealthWatch = this.agent.onHealthChange(() => void this.publishInventory());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.stopHealthWatch?.();
    await this.service?.stop().catch(() => undefined);
  }

  private async dispatch(verb: AgentVerb, handler: Handler, data: Uint8Array) {
    let operation: ReturnType<typeof operationSignal> | undefined;
    try {
      const payload = data.length > 0 ? decodeJson(data) : {};
      const envelope = parseMessage(commandEnvelopeSchema, payload);
      if (envelope.cluster !== this.agent.cluster) {
        throw new HoistError("WRONG_CLUSTER", `node ${this.agent.node} belongs to cluster ${this.agent.cluster}, not ${envelope.cluster}; command refused`);
      }
      operation = operationSignal(payload, this.abort.signal, `${verb} on node ${this.agent.node}`);
      const result = await handler(payload, operation.signal);
      return okReply(result ?? null);
    } catch (err) {
      this.logger.warn({ err, verb }, "command failed");
      return errorReply(err);
    } finally {
      operation?.dispose();
      if (!READ_VERBS.includes(verb)) void this.publishInventory();
    }
  }

  /** Runs a verb the NodeAgent does not deduplicate once per idempotency key (see KeyedOutcomes). */
  private async once(verb: AgentVerb, command: { service: string; key?: string | undefined }, run: () => Promise<unknown>): Promise<unknown> {
    if (!this.outcomes) return run();
    return unwrapReply(await this.outcomes.once({ verb, service: command.service, key: command.key }, run));
  }

  /**
   * Runs an upgrade with the command's signal, remembered so that a rollback for the same service
   * can stop it (the coordinator sends the rollback once it gave up on the upgrade). A repeat under
   * the same key attaches to the run in the NodeAgent and keeps the first command's signal.
   */
  private trackUpgrade<T>(service: string, abort: (reason: HoistError) => void, work: Promise<T>): Promise<T> {
    const entry = { abort, settled: work.catch(() => undefined) };
    if (!this.upgrades.has(service)) this.upgrades.set(service, entry);
    return work.finally(() => {
      if (this.upgrades.get(service) === entry) this.upgrades.delete(service);
    });
  }

  /** Stops an upgrade this bus started for the service (it rolls itself back) and waits until it ended. */
  private async stopUpgrade(service: string): Promise<void> {
    const running = this.upgrades.get(service);
    if (!running) return;
    running.abort(new HoistError("CANCELLED", `a rollback of ${service} was requested while its upgrade ran; the upgrade was stopped`));
    await running.settled;
  }

  private progressPublisher(verb: string, key: string | undefined) {
    const subject = agentEventsSubject(this.agent.cluster, this.agent.node);
    return (progress: Progress) => {
      this.nc.publish(subject, encodeJson({ type: "progress", node: this.agent.node, verb, key, at: new Date().toISOString(), ...progress }));
    };
  }

  private handlers(): Record<AgentVerb, Handler> {
    const agent = this.agent;
    return {
      inventory: async () => agent.inventory(),
      health: async (payload) => {
        const command = parseMessage(serviceCommandSchema, payload);
        return { service: command.service, status: agent.health(command.service) };
      },
      stage: async (payload, signal) => {
        const command = parseMessage(stageCommandSchema, payload);
        return this.once("stage", command, () =>
          agent.stage(command.service, command.version, {
            signal,
            onProgress: this.progressPublisher("stage", command.key),
            ...(command.artifact ? { artifact: command.artifact } : {}),
          }),
        );
      },
      upgrade: async (payload, signal) => {
        const command = parseMessage(upgradeCommandSchema, payload);
        const controller = new AbortController();
        const onAbort = () => controller.abort(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        const work = agent.upgrade(
          {
            service: command.service,
            to: command.to,
            allowDowngrade: command.allowDowngrade,
            skipDrain: command.skipDrain,
            ...(command.key ? { key: command.key } : {}),
            ...(command.release ? { release: command.release } : {}),
          },
          { signal: controller.signal, onProgress: this.progressPublisher("upgrade", command.key) },
        );
        try {
          return await this.trackUpgrade(command.service, (reason) => controller.abort(reason), work);
        } finally {
          signal.removeEventListener("abort", onAbort);
        }
      },
      rollback: async (payload, signal) => {
        const command = parseMessage(rollbackCommandSchema, payload);
        await this.stopUpgrade(command.service);
        return agent.rollback(command.service, {
          signal,
          onProgress: this.progressPublisher("rollback", command.key),
          ...(command.key ? { key: command.key } : {}),
          ...(command.to ? { to: command.to } : {}),
        });
      },
      drain: async (payload, signal) => {
        const command = parseMessage(serviceCommandSchema, payload);
        return this.once("drain", command, () => agent.drain(command.service, { signal }));
      },
      rejoin: async (payload, signal) => {
        const command = parseMessage(serviceCommandSchema, payload);
        return this.once("rejoin", command, () => agent.rejoin(command.service, { signal }));
      },
      stop: async (payload, signal) => {
        const command = parseMessage(serviceCommandSchema, payload);
        const stopService = this.options.stopService;
        if (!stopService) throw new HoistError("INVALID_ARGUMENT", "this agent cannot stop services on command");
        return this.once("stop", command, () => stopService(command.service, signal));
      },
      start: async (payload, signal) => {
        const command = parseMessage(serviceCommandSchema, payload);
        const startService = this.options.startService;
        if (!startService) throw new HoistError("INVALID_ARGUMENT", "this agent cannot start services on command");
        return this.once("start", command, () => startService(command.service, signal));
      },
    };
  }

  /**
   * Writes the inventory with a last-seen time when it changed since the last write or the
   * keepalive is due. The inventory comes from the agent's cache, which the agent keeps fresh (its
   * own changes invalidate it; another process's are seen by a stat of its dirs), so a heartbeat
   * reads no listing and no file. A failure is logged; the next heartbeat writes again.
   */
  publishInventory(): Promise<void> {
    this.publishing = this.publishing.then(() => this.publishIfDue());
    return this.publishing;
  }

  private async publishIfDue(): Promise<void> {
    try {
      const inventory = await this.agent.inventory();
      const json = JSON.stringify(inventory);
      const now = Date.now();
      if (this.published?.json === json && now - this.published.at < (this.options.keepaliveMs ?? 5000)) return;
      await this.inventoryKv.put(inventoryKey(this.agent.cluster, this.agent.node), encodeJson({ ...inventory, lastSeen: new Date(now).toISOString() }));
      this.published = { json, at: now };
    } catch (err) {
      if (!this.abort.signal.aborted) this.logger.debug({ err }, "inventory heartbeat failed");
    }
  }
}
