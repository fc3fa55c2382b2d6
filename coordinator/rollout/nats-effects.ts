import type { KV, NatsConnection } from "nats";
import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import { encodeJson, rolloutEventsSubject, toBusError } from "../../shared/bus/index.ts";
import type { UpgradeOutcome } from "../../shared/types/index.ts";
import type { z } from "zod";
import type { hopReleaseSchema } from "../../shared/wire/index.ts";
import type { AgentVerb } from "../../shared/bus/index.ts";
import { createAgentClient, type AgentClientOptions } from "../../shared/proto/index.ts";
import { probeAgentsGrpc } from "../health/probe-agents-grpc.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { sendAgentCommand } from "../bus/agent-commands.ts";
import { ConnectionWatch } from "../bus/connection-watch.ts";
import { readInventories, readInventory } from "../../shared/inventory/index.ts";
import { askInventories } from "../inventory/ask-agents.ts";
import { runPreflight } from "../plan/preflight.ts";
import { awaitHealthGate } from "../health/health-gate.ts";
import type { RolloutEffects } from "./effects.ts";
import type { RolloutEvent } from "./events.ts";
import { rollbackStepResult, upgradeStepResult, type StepOutcome, type StepResult } from "./outcomes.ts";
import type { StepCommand } from "./step-command.ts";
import type { RolloutState } from "./state.ts";

export interface NatsEffectsOptions {
  nc: NatsConnection;
  inventoryKv: KV;
  logger: Logger;
  /** How the coordinator reaches agents' gRPC servers for the health gate. */
  agentGrpc: AgentClientOptions;
  /** A node whose inventory heartbeat is older than this did not answer (preflight). */
  staleAfterMs?: number;
  /** How often an unanswered upgrade or rollback is sent again under its key (default 5 s). */
  reaskMs?: number;
}

function failed(err: unknown): StepResult {
  const error = toHoistError(err);
  return { outcome: "failed" satisfies StepOutcome, error: { code: error.code, message: error.message } };
}

const RETRYABLE = new Set(["UNAVAILABLE", "BUSY", "TIMEOUT"]);

/** The hop's release as sent (the agent's schema fills the defaults, e.g. a migration's timeout). */
type HopReleaseMessage = z.input<typeof hopReleaseSchema>;

/**
 * The hop as the coordinator's catalog has it, sent with the upgrade so that the agent runs exactly
 * this release and these migrations (its own catalog, if any, is not consulted). Left out when the
 * plan lacks the migrations' argv (a rollout recorded by an older coordinator).
 */
function hopRelease(command: StepCommand): { release?: HopReleaseMessage } {
  const migrations: HopReleaseMessage["migrations"] = [];
  for (const { run, ...migration } of command.migrations) {
    if (run === undefined) return {};
    // Every field the catalog gave (permanent, when, ...) goes with it: the agent runs each migration as the catalog says.
    if (!command.downgrade) migrations.push({ ...migration, run });
  }
  return { release: { from: command.from, artifact: command.artifact, migrations } };
}

/**
 * The runner's effects on a real cluster: step commands to agents over NATS request/reply (with the
 * step's idempotency key), the health gate on each agent's gRPC Watch, preflight from the inventory
 * KV and a fresh answer of every agent, and events on the HOIST_EVENTS stream.
 */
export class NatsRolloutEffects implements RolloutEffects {
  private readonly connection: ConnectionWatch;
  /** The health gate's gRPC clients, one per agent address, kept for the drive (a connection per verified node was most of a verify's cost). */
  private readonly clients = new Map<string, ReturnType<typeof createAgentClient>>();

  constructor(private readonly options: NatsEffectsOptions) {
    this.connection = new ConnectionWatch(options.nc);
  }

  /** Each command gives up waiting when the connection drops (its reply is lost); the runner re-sends it under its key. */
  private send<T>(target: { cluster: string; node: string }, verb: AgentVerb, payload: Record<string, unknown>, timeoutMs: number): Promise<T> {
    return sendAgentCommand<T>(this.options.nc, target, verb, payload, timeoutMs, { connectionLost: this.connection });
  }

  async runStep(command: StepCommand, signal: AbortSignal): Promise<StepResult> {
    const target = { cluster: command.cluster, node: command.node };
    const timeoutMs = Math.max(1000, command.deadlineAt - Date.now());
    // deadlineMs: the agent stops the operation itself when the step's deadline passes (a cancel
    // before stop aborts, after stop it rolls back), so no node keeps working on an expired step.
    const base = { service: command.service, key: command.key, deadlineMs: timeoutMs };
    try {
      switch (command.step) {
        case "stage":
          await this.send(target, "stage", { ...base, version: command.to, artifact: command.artifact }, timeoutMs);
          return { outcome: "ok" };
        case "drain":
        case "rejoin":
        case "stop":
        case "start":
          await this.send(target, command.step, base, timeoutMs);
          return { outcome: "ok" };
        case "upgrade": {
          const payload = { ...base, to: command.to, skipDrain: true, allowDowngrade: command.downgrade, ...hopRelease(command) };
          return upgradeStepResult(await this.requestByKey<UpgradeOutcome>(command, "upgrade", payload, signal));
        }
        case "rollback": {
          return rollbackStepResult(await this.requestByKey<UpgradeOutcome>(command, "rollback", { ...base, to: command.from }, signal));
        }
        case "verify":
          await this.verify(command, signal);
          return { outcome: "ok" };
      }
    } catch (err) {
      // NATS trouble on the coordinator's side (the health gate's KV read timing out during an
      // outage) is retryable like an agent that did not answer: the step is sent again under its key.
      const error = toBusError(err, `${command.step} on node ${command.node}`);
      if (RETRYABLE.has(error.code) && error.retryable && !signal.aborted) throw error;
      return failed(error);
    }
  }

  /**
   * Sends an upgrade or rollback and, while no answer comes and the step's deadline has not passed,
   * asks again under the same key every `reaskMs`. A request already delivered is lost when its agent
   * dies; the agent that comes back finds its journal, rolls the node back and records the outcome
   * under the key, so asking again returns that outcome (or attaches to the run still going) within
   * seconds instead of at the step's deadline. Only for verbs the agent deduplicates by key.
   */
  private async requestByKey<T>(command: StepCommand, verb: "upgrade" | "rollback", payload: Record<string, unknown>, signal: AbortSignal): Promise<T> {
    const reaskMs = this.options.reaskMs ?? 5000;
    const target = { cluster: command.cluster, node: command.node };
    for (;;) {
      const remaining = command.deadlineAt - Date.now();
      try {
        return await this.send<T>(target, verb, payload, Math.max(1000, Math.min(reaskMs, remaining)));
      } catch (err) {
        if (toHoistError(err).code !== "TIMEOUT" || remaining <= reaskMs || signal.aborted) throw err;
      }
    }
  }

  /** The health gate: the agent's grpc.health.v1 Watch must hold SERVING for minHealthyMs. */
  private async verify(command: StepCommand, signal: AbortSignal): Promise<void> {
    const address = (await readInventory(this.options.inventoryKv, command.cluster, command.node))?.inventory.grpcAddress;
    if (!address) {
      throw new HoistError("WRONG_STATE", `node ${command.node} publishes no gRPC address: the health gate needs the agent's grpc.health.v1 service (set grpc: in its config)`);
    }
    const key = `${command.cluster} ${address}`;
    let client = this.clients.get(key);
    if (!client) {
      client = createAgentClient(address, { ...this.options.agentGrpc, cluster: command.cluster });
      this.clients.set(key, client);
    }
    await awaitHealthGate(client, { service: command.service, minHealthyMs: command.minHealthyMs, healthyDeadlineMs: command.healthyDeadlineMs, signal });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  async preflight(rollout: RolloutState): Promise<{ ok: boolean; messages: string[] }> {
    const known = await readInventories(this.options.inventoryKv, rollout.cluster, this.options.logger);
    const { inventories, unanswered } = await askInventories(this.options.nc, rollout.cluster, known);
    const grpcUnreachable = await probeAgentsGrpc(
      rollout.plan.nodes.map((node) => node.node),
      inventories,
      { ...this.options.agentGrpc, cluster: rollout.cluster },
    );
    const expectedFrom = Object.fromEntries(rollout.plan.nodes.map((node) => [node.node, node.expectedVersion]));
    const requiredBytes = Object.fromEntries(rollout.plan.nodes.map((node) => [node.node, node.requiredBytes]));
    const result = runPreflight({
      cluster: rollout.cluster,
      service: rollout.service,
      nodes: rollout.plan.nodes.map((node) => node.node),
      inventories,
      expectedFrom,
      requiredBytes,
      now: Date.now(),
      staleAfterMs: this.options.staleAfterMs ?? 15_000,
      unanswered,
      grpcUnreachable,
    });
    return { ok: result.ok, messages: result.messages };
  }

  publish(event: RolloutEvent): void {
    this.options.nc.publish(rolloutEventsSubject(event.cluster), encodeJson(event));
  }
}
