import { planUpgradePath, serviceCatalog, type Catalog } from "../../shared/catalog/index.ts";
import { toHoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import type { UpgradeOutcome } from "../../shared/types/index.ts";
import { objectArtifactSha, type Slot, type UnattendedStore } from "../../shared/unattended/index.ts";
import type { NodeAgentApi } from "../node-agent-api.ts";
import { classifyError, classifyOutcome, type OutcomeKind } from "./outcome-kind.ts";

/** What one node's unattended run needs from the loop around it. */
export interface NodeRunContext {
  agent: NodeAgentApi;
  store: UnattendedStore;
  logger: Logger;
  cluster: string;
  node: string;
  service: string;
  heartbeatMs: number;
  /** The catalog the engine plans with (KV-pushed or the config's), for prefetching object-store artifacts. */
  catalog?: Catalog;
  /** Brings a `nats-object:` artifact into the cache. */
  fetchObject?: (url: string, signal: AbortSignal) => Promise<unknown>;
  signal: AbortSignal;
  /** Runs once the outcome is known and before the slot is freed (the loop charges failures there). */
  beforeRelease?: (result: { kind: OutcomeKind; error?: { code: string; message: string }; outcome?: UpgradeOutcome }) => Promise<void>;
  /** Rechecked after the slot is taken: a suspend or quarantine that landed meanwhile stops the start. */
  stillAllowed: () => Promise<boolean>;
}

export interface NodeRunRequest {
  kind: "upgrade" | "rollback";
  to: string;
  from: string | undefined;
  wave: string;
  slot: number;
  /** The slot as stored, when this node already holds it (resuming after a restart). */
  held?: { value: Slot; revision: number };
  minHealthyMs: number;
}

export type NodeRunResult = { ran: false; why: "slot-taken" | "no-longer-allowed" } | { ran: true; kind: OutcomeKind; outcome?: UpgradeOutcome; error?: { code: string; message: string }; durationMs: number; slotCharged: boolean };

/**
 * Runs one node's upgrade (or rollback) inside a wave slot: takes the slot with create-if-absent
 * (or resumes the one it holds), heartbeats it with the current step, fetches object-store artifacts
 * of every hop, runs the engine (multi-hop, health-gated, rolling itself back on failure), keeps
 * healthy for minHealthy, and frees the slot when the node is healthy again: on the target, or back
 * where it was. A slot charged meanwhile (this node looked silent) is left for an operator to free.
 */
export async function runInSlot(ctx: NodeRunContext, request: NodeRunRequest): Promise<NodeRunResult> {
  const { store, cluster, service, node } = ctx;
  const started = Date.now();
  let slot: Slot = request.held?.value ?? { node, wave: request.wave, version: request.to, since: started, heartbeatAt: started, step: "starting" };
  let revision = request.held?.revision ?? (await store.takeSlot(cluster, service, request.slot, slot));
  if (revision === undefined) return { ran: false, why: "slot-taken" };
  store.notify(cluster, service, "slot", { taken: { ...slot, index: request.slot, revision } });
  if (!request.held && !(await ctx.stillAllowed())) {
    await store.releaseSlot(cluster, service, request.wave, request.slot, revision);
    return { ran: false, why: "no-longer-allowed" };
  }
  let charged = false;
  let beating: Promise<void> = Promise.resolve();
  const beat = (step: string) => {
    if (charged) return;
    beating = beating.then(async () => {
      if (charged || revision === undefined) return;
      slot = { ...slot, heartbeatAt: Date.now(), step };
      const next = await store.refreshSlot(cluster, service, request.slot, slot, revision).catch((err: unknown) => {
        ctx.logger.debug({ err }, "slot heartbeat failed; the next one retries");
        return revision;
      });
      if (next === undefined) {
        charged = true;
        ctx.logger.warn({ wave: request.wave, slot: request.slot }, "my slot was charged or freed by someone else; finishing the upgrade without it");
      } else revision = next;
    });
  };
  let step = "starting";
  const timer = setInterval(() => beat(step), ctx.heartbeatMs);
  const key = `unattended-${request.kind}-${request.to}-${slot.since}`;
  let kind: OutcomeKind;
  let outcome: UpgradeOutcome | undefined;
  let error: { code: string; message: string } | undefined;
  try {
    beat(step);
    if (request.kind === "upgrade") await prefetch(ctx, request);
    const onProgress = (progress: { step: string }) => {
      if (progress.step !== step) {
        step = progress.step;
        beat(step);
      }
    };
    outcome =
      request.kind === "rollback" ? await ctx.agent.rollback(service, { to: request.to, key, signal: ctx.signal, onProgress }) : await ctx.agent.upgrade({ service, to: request.to, key }, { signal: ctx.signal, onProgress });
    kind = classifyOutcome(outcome);
    if (outcome.error) error = { code: outcome.error.code, message: outcome.error.message };
    if (kind === "ok" && request.minHealthyMs > 0) {
      step = "min-healthy";
      beat(step);
      if (!(await staysHealthy(ctx, request.minHealthyMs))) {
        error = { code: "HEALTH_CHECK_FAILED", message: `${service} stopped serving within minHealthy (${request.minHealthyMs} ms) on ${request.to}` };
        step = "rollback";
        beat(step);
        outcome = await ctx.agent.rollback(service, { key: `${key}-min-healthy`, signal: ctx.signal, onProgress });
        kind = outcome.result === "rolled-back" ? "version-suspect" : "stuck";
      }
    }
  } catch (err) {
    const hoist = toHoistError(err);
    kind = classifyError();
    error = { code: hoist.code, message: hoist.message };
  } finally {
    clearInterval(timer);
  }
  await beating;
  // Charge before the slot is freed: the next node must see the failure before it can take the slot.
  await ctx.beforeRelease?.({ kind, ...(error ? { error } : {}), ...(outcome ? { outcome } : {}) });
  if (!charged && kind !== "stuck") await store.releaseSlot(cluster, service, request.wave, request.slot, revision).catch((err: unknown) => ctx.logger.warn({ err }, "could not free my slot"));
  return { ran: true, kind, ...(outcome ? { outcome } : {}), ...(error ? { error } : {}), durationMs: Date.now() - started, slotCharged: charged };
}

/** Fetches every hop's object-store artifact into the cache before the engine stages it. */
async function prefetch(ctx: NodeRunContext, request: NodeRunRequest): Promise<void> {
  if (!ctx.catalog || !ctx.fetchObject) return;
  const hops = planUpgradePath(serviceCatalog(ctx.catalog, ctx.service), request.from, request.to);
  for (const hop of hops) if (objectArtifactSha(hop.release.artifact.url)) await ctx.fetchObject(hop.release.artifact.url, ctx.signal);
}

/**
 * Whether the service, once its health monitor says SERVING again (it holds NOT_SERVING while the
 * operation runs; up to 30 s), keeps from NOT_SERVING for `ms` (checked every 100 ms).
 */
async function staysHealthy(ctx: NodeRunContext, ms: number): Promise<boolean> {
  const servingBy = Date.now() + 30_000;
  while (ctx.agent.health(ctx.service) !== "SERVING") {
    if (Date.now() > servingBy) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (ctx.agent.health(ctx.service) === "NOT_SERVING") return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return ctx.agent.health(ctx.service) !== "NOT_SERVING";
}
