import type { KeyObject } from "node:crypto";
import { Events, type KV, type NatsConnection, type ObjectStore, type Subscription } from "nats";
import { decodeJson, encodeJson } from "../../shared/bus/index.ts";
import type { Catalog } from "../../shared/catalog/index.ts";
import { toHoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import {
  chargeFailure,
  decideUnattended,
  effectivePlan,
  notifySchema,
  readPushedCatalog,
  resolveDesired,
  unattendedEventsSubject,
  unattendedNotifySubject,
  verifyText,
  type NodeReport,
  type NotifyDelta,
  type ResolvedDesired,
  type RolloutSnapshot,
  type UnattendedDecision,
  type UnattendedStore,
  type WaitReason,
} from "../../shared/unattended/index.ts";
import type { NodeAgentApi } from "../node-agent-api.ts";
import { applyNotifyDelta } from "./apply-delta.ts";
import { runInSlot, type NodeRunResult } from "./node-run.ts";

export interface UnattendedLoopOptions {
  agent: NodeAgentApi & { useCatalog(catalog: Catalog): void };
  nc: NatsConnection;
  store: UnattendedStore;
  catalogKv: KV;
  artifacts: ObjectStore;
  /** Brings a `nats-object:` artifact into the agent's cache (object-artifacts.ts). */
  fetchObject: (url: string, signal: AbortSignal) => Promise<unknown>;
  logger: Logger;
  cluster: string;
  node: string;
  labels: Readonly<Record<string, string>>;
  services: readonly string[];
  pollIntervalMs: number;
  heartbeatMs: number;
  publicKeys: readonly KeyObject[];
  backoffMs: number;
  maxBackoffMs: number;
}

interface ServiceLoop {
  running?: Promise<void>;
  /** The version the current back-off was for. */
  backoffTarget?: string;
  /** A read scheduled for when the decision may change by itself (a window opens, a holder turns silent). */
  wake?: NodeJS.Timeout;
  again: boolean;
  /** The next tick reads the rollout from KV (else it decides from `view`, kept current by notify deltas). */
  readNext: boolean;
  /** The rollout as last read, its desired state checked, with the deltas of notifies applied since. */
  view?: { snapshot: RolloutSnapshot; desired: ResolvedDesired };
  /**
   * Deltas that arrived while the rollout was being read (set only then): applied to the new view once
   * it is there, since the read may or may not include them. A stale one errs safe: a slot shown
   * taken that is free is re-read at its holder's unknownAfter (wake), one shown free is confirmed by
   * the read before acting.
   */
  deltasDuringRead?: NotifyDelta[];
  /** Why the last decision waited (undefined after an act). */
  waitingFor?: WaitReason;
  report?: NodeReport;
  reportedAt: number;
  /** An unchanged report is re-put this often (unknownAfter / 4 once a desired state is known). */
  keepaliveMs: number;
}

/**
 * Waits that no other node's report or slot can end (only this node's own state, the control record,
 * the desired state, or time): a notify delta updates the view but does not make such a node decide
 * again, so a fleet mostly on target spends nothing per node finishing.
 */
const WAITS_INDEPENDENT_OF_OTHERS: ReadonlySet<WaitReason> = new Set(["no-target", "on-target", "pinned", "suspended", "held", "quarantined", "failed-here", "backoff"]);

/** What one agent's loop asked of KV, for tests and logs. */
export interface UnattendedLoopStats {
  rolloutReads: number;
  viewTicks: number;
  reportPuts: number;
}

/**
 * The agent side of unattended rollouts: for each service it follows, it reads the rollout
 * (desired state, control, reports, slots) on a jittered poll, after a reconnect, when a wake time
 * comes and when told on the plain notify subject that the desired state or the control record
 * changed; checks the desired state's signature; charges silent slot holders; asks
 * `decideUnattended`; reports state, reason and next eligible time; and when told to act, reads the
 * rollout once more and runs the existing engine inside a slot (node-run.ts). No JetStream consumer
 * stays open: each read is direct gets plus one short watch that stops after the initial values.
 *
 * Built for large fleets: the notifies sent while a rollout runs (a slot taken or freed, a node
 * finished) carry what changed, and the agent applies that to the rollout it read last and decides
 * again without reading KV (only an `act` is confirmed by a read). So a node finishing costs every
 * other agent no KV read, where each used to read the whole rollout (O(N) keys, N times per rollout).
 * An unchanged report is re-put only every unknownAfter / 4 (a keepalive), not every heartbeat.
 */
export class UnattendedLoop {
  private readonly abort = new AbortController();
  private readonly loops = new Map<string, ServiceLoop>();
  private subscriptions: Subscription[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  readonly stats: UnattendedLoopStats = { rolloutReads: 0, viewTicks: 0, reportPuts: 0 };

  constructor(private readonly options: UnattendedLoopOptions) {}

  start(): void {
    const { nc, cluster, services } = this.options;
    for (const service of services) {
      this.loops.set(service, { again: false, readNext: true, reportedAt: 0, keepaliveMs: this.options.pollIntervalMs });
      this.subscriptions.push(nc.subscribe(unattendedNotifySubject(cluster, service), { callback: (_err, msg) => this.onNotify(service, msg.data) }));
      this.trigger(service);
    }
    this.schedulePoll();
    // The report's keepalive is a plain put of the last report: no read, no consumer.
    this.refreshTimer = setInterval(() => {
      for (const [service, loop] of this.loops) void this.refreshReport(service, loop);
    }, this.options.heartbeatMs);
    this.refreshTimer.unref();
    void this.watchReconnects();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.options.logger.info({ stats: this.stats }, "unattended loop stopped");
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const loop of this.loops.values()) if (loop.wake) clearTimeout(loop.wake);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
  }

  /** The safety-net poll: every pollInterval, jittered by up to 20% so that agents do not read at once. */
  private schedulePoll(): void {
    const delay = this.options.pollIntervalMs * (0.8 + Math.random() * 0.4);
    this.pollTimer = setTimeout(() => {
      for (const service of this.options.services) this.trigger(service);
      this.schedulePoll();
    }, delay);
    this.pollTimer.unref();
  }

  private async watchReconnects(): Promise<void> {
    for await (const status of this.options.nc.status()) {
      if (this.abort.signal.aborted) return;
      if (status.type === Events.Reconnect) {
        // Spread the reads of many agents reconnecting at once.
        const delay = Math.random() * Math.min(5000, this.options.pollIntervalMs);
        setTimeout(() => this.options.services.forEach((service) => this.trigger(service)), delay).unref();
      }
    }
  }

  /** A notify: apply its delta to the view and decide from it, or (no delta, or no view yet) read the rollout. */
  private onNotify(service: string, data: Uint8Array): void {
    const loop = this.loops.get(service);
    if (!loop) return;
    let parsed;
    try {
      parsed = notifySchema.safeParse(decodeJson(data));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success === true && loop.deltasDuringRead) {
      const { report, taken, freed } = parsed.data;
      if (report || taken || freed) {
        loop.deltasDuringRead.push(parsed.data);
        this.trigger(service, false);
        return;
      }
    }
    const applied = parsed?.success === true && loop.view !== undefined && applyNotifyDelta(loop.view.snapshot, this.options.cluster, service, parsed.data);
    if (applied && loop.waitingFor !== undefined && WAITS_INDEPENDENT_OF_OTHERS.has(loop.waitingFor) && !loop.running) return;
    this.trigger(service, !applied);
  }

  /**
   * Runs a tick for the service now, or once more after the running one (ticks never overlap).
   * `read` (the default) makes that tick read the rollout from KV; else it decides from the view.
   */
  trigger(service: string, read = true): void {
    const loop = this.loops.get(service);
    if (!loop || this.abort.signal.aborted) return;
    if (read) loop.readNext = true;
    if (loop.running) {
      loop.again = true;
      return;
    }
    const fromKv = loop.readNext || loop.view === undefined;
    loop.readNext = false;
    loop.running = this.tick(service, loop, fromKv)
      .catch((err: unknown) => {
        if (!this.abort.signal.aborted) this.options.logger.warn({ err, service }, "unattended tick failed; the next push or poll retries");
      })
      .finally(() => {
        loop.running = undefined;
        if (loop.again) {
          loop.again = false;
          this.trigger(service, false);
        }
      });
  }

  private async tick(service: string, loop: ServiceLoop, fromKv: boolean): Promise<void> {
    if (!fromKv && loop.view) {
      this.stats.viewTicks++;
      // Only a wait is trusted from the view; an act is confirmed by a read (which decides again).
      if ((await this.decideOnView(service, loop, loop.view)).decision.action === "wait") return;
    }
    this.stats.rolloutReads++;
    loop.view = undefined;
    loop.deltasDuringRead = [];
    try {
      await this.readIntoView(service, loop);
    } finally {
      loop.deltasDuringRead = undefined;
    }
    // readIntoView set it (TypeScript still narrows it to the undefined assigned above).
    const view = loop.view as ServiceLoop["view"];
    if (!view) return;
    const { decision, version } = await this.decideOnView(service, loop, view);
    if (decision.action === "wait") return;
    loop.waitingFor = undefined;
    await this.act(service, loop, view.desired, view.snapshot, decision, version);
  }

  /** Decides on `view` now, schedules the next wake-up, and reports a wait. */
  private async decideOnView(service: string, loop: ServiceLoop, view: NonNullable<ServiceLoop["view"]>): Promise<{ decision: UnattendedDecision; version: string | undefined }> {
    const now = Date.now();
    const version = await this.activeVersion(service);
    const decision = this.decide(loop, view.desired, view.snapshot, version, now);
    this.scheduleWake(service, loop, view.desired, view.snapshot, decision, now);
    if (decision.action === "wait") await this.reportWait(service, loop, decision, version, now);
    return { decision, version };
  }

  /**
   * Reads the rollout, checks and resolves the desired state, charges silent holders, and makes it
   * the view (with the deltas that arrived meanwhile applied); reports and leaves no view when there
   * is no desired state or it is refused.
   */
  private async readIntoView(service: string, loop: ServiceLoop): Promise<void> {
    const { store, cluster } = this.options;
    const snapshot = await store.readRollout(cluster, service);
    const now = Date.now();
    const version = await this.activeVersion(service);
    // Report even before any desired state exists: waves are made from the reports, so a node must
    // be known before the first document arrives, or an early wave could look empty and complete.
    if (!snapshot.stored) return this.report(service, loop, { state: "idle", reason: "no-desired-state", version }, now);
    let desired: ResolvedDesired;
    try {
      verifyText("the desired state", snapshot.stored.value.text, snapshot.stored.value.signature, this.options.publicKeys);
      desired = await resolveDesired(store, snapshot.stored.value);
      await this.refreshCatalog();
    } catch (err) {
      const error = toHoistError(err);
      if (loop.report?.reason !== error.code.toLowerCase()) this.options.logger.error({ err: error, service, revision: snapshot.stored.revision }, "refusing the desired state");
      await this.report(service, loop, { state: "refused", reason: error.code === "SIGNATURE_INVALID" ? "signature-invalid" : "desired-invalid", version, detail: error.message }, now);
      return;
    }
    loop.keepaliveMs = Math.max(this.options.heartbeatMs, desired.doc.unknownAfter / 4);
    await this.chargeSilentHolders(service, desired, snapshot, now);
    for (const delta of loop.deltasDuringRead ?? []) applyNotifyDelta(snapshot, cluster, service, delta);
    loop.view = { snapshot, desired };
  }

  private async activeVersion(service: string): Promise<string | undefined> {
    const inventory = await this.options.agent.inventory();
    return inventory.services.find((entry) => entry.name === service)?.activeVersion;
  }

  /** Asks the decider about this node, with the back-off it is in (which belongs to the version that hit it: a new target is tried at once). */
  private decide(loop: ServiceLoop, desired: ResolvedDesired, snapshot: RolloutSnapshot, version: string | undefined, now: number): UnattendedDecision {
    const { node } = this.options;
    const fleet = { nodes: snapshot.nodes, slots: snapshot.slots, control: snapshot.control.value };
    const own = snapshot.nodes.find((report) => report.node === node);
    const target = fleet.control.pins[node] ?? effectivePlan(desired, fleet.control).target;
    const backoffUntil = loop.backoffTarget === undefined || loop.backoffTarget === target ? (loop.report?.backoffUntil ?? own?.backoffUntil) : undefined;
    return decideUnattended(desired, { node, labels: this.options.labels, version, backoffUntil }, fleet, now);
  }

  private async reportWait(service: string, loop: ServiceLoop, decision: Extract<UnattendedDecision, { action: "wait" }>, version: string | undefined, now: number): Promise<void> {
    loop.waitingFor = decision.reason;
    await this.report(service, loop, { state: decision.reason === "on-target" || decision.reason === "pinned" ? "done" : "idle", reason: decision.reason, version, nextEligibleAt: decision.nextEligibleAt }, now);
  }

  /**
   * Reads again when the decision may change without anyone writing: at the next eligible time (a
   * window opens, a soak or hold ends) and when a live slot's holder would turn silent, so that
   * neither waits for the poll. Jittered by up to 1 s so that a fleet does not read at once.
   */
  private scheduleWake(service: string, loop: ServiceLoop, desired: ResolvedDesired, snapshot: RolloutSnapshot, decision: UnattendedDecision, now: number): void {
    if (loop.wake) clearTimeout(loop.wake);
    loop.wake = undefined;
    const times = snapshot.slots.filter((slot) => !slot.charged && slot.node !== this.options.node).map((slot) => slot.heartbeatAt + desired.doc.unknownAfter);
    if (decision.action === "wait" && decision.nextEligibleAt !== undefined) times.push(decision.nextEligibleAt);
    const next = times.filter((at) => at > now - 1000);
    if (next.length === 0) return;
    const delay = Math.max(0, Math.min(...next) - now) + Math.random() * 1000;
    if (delay > this.options.pollIntervalMs) return;
    loop.wake = setTimeout(() => this.trigger(service), delay);
    loop.wake.unref();
  }

  /** Re-puts the last report with a fresh seenAt (the node is alive) once it is a keepalive old. */
  private async refreshReport(service: string, loop: ServiceLoop): Promise<void> {
    if (!loop.report || Date.now() - loop.reportedAt < loop.keepaliveMs) return;
    const next = { ...loop.report, seenAt: Date.now() };
    loop.report = next;
    loop.reportedAt = next.seenAt;
    this.stats.reportPuts++;
    await this.options.store.putReport(this.options.cluster, service, next).catch((err: unknown) => this.options.logger.debug({ err }, "report heartbeat failed"));
  }

  /** Charges every slot whose holder stopped heartbeating past unknownAfter (once: by compare-and-set on the slot). */
  private async chargeSilentHolders(service: string, desired: ResolvedDesired, snapshot: RolloutSnapshot, now: number): Promise<void> {
    const { store, cluster, node } = this.options;
    for (const slot of snapshot.slots) {
      if (slot.charged || slot.node === node || now - slot.heartbeatAt < desired.doc.unknownAfter) continue;
      const reason = `${slot.node} held slot ${slot.wave}.${slot.index} at step ${slot.step} and was silent for ${Math.round((now - slot.heartbeatAt) / 1000)} s (unknownAfter)`;
      const { index: _index, key: _key, revision, ...value } = slot;
      const charged = await store.refreshSlot(cluster, service, slot.index, { ...value, charged: { at: now, reason } }, revision);
      if (charged === undefined) continue;
      const nodeCount = snapshot.nodes.length;
      await store.updateControl(cluster, service, (control) => chargeFailure(control, { node: slot.node, version: slot.version, kind: "unknown", reason, at: now }, desired.doc, nodeCount, node));
      this.event(service, { type: "slot-charged", holder: slot.node, wave: slot.wave, slot: slot.index, reason });
      this.options.logger.warn({ service, holder: slot.node, wave: slot.wave }, "charged a silent slot holder to the failure budget");
    }
  }

  private async act(service: string, loop: ServiceLoop, desired: ResolvedDesired, snapshot: RolloutSnapshot, decision: Extract<UnattendedDecision, { action: "act" }>, version: string | undefined): Promise<void> {
    const { store, cluster, node, logger } = this.options;
    const held = snapshot.slots.find((slot) => slot.node === node && slot.index === decision.slot && slot.wave === decision.wave);
    const wave = desired.doc.waves.find((entry) => entry.name === decision.wave)!;
    await this.report(service, loop, { state: "in-flight", reason: decision.holding ? "resuming" : "starting", version }, Date.now());
    const catalog = await this.refreshCatalog();
    const result: NodeRunResult = await runInSlot(
      {
        agent: this.options.agent,
        store,
        logger: logger.child({ service, wave: decision.wave }),
        cluster,
        node,
        service,
        heartbeatMs: this.options.heartbeatMs,
        ...(catalog ? { catalog } : {}),
        fetchObject: this.options.fetchObject,
        signal: this.abort.signal,
        beforeRelease: async (ended) => {
          if (ended.kind !== "version-suspect" && ended.kind !== "stuck") return;
          const reason = ended.error ? `${ended.error.code}: ${ended.error.message}` : `upgrade ended ${ended.outcome?.result ?? "badly"}`;
          logger.error({ service, to: decision.to, reason }, "unattended upgrade failed; charging it to the failure budget");
          await store.updateControl(cluster, service, (control) => chargeFailure(control, { node, version: decision.to, kind: "version-suspect", reason, at: Date.now() }, desired.doc, snapshot.nodes.length, node));
        },
        stillAllowed: async () => {
          const control = await store.readControl(cluster, service);
          return !control.suspended && !(decision.kind === "upgrade" && control.quarantined[decision.to]);
        },
      },
      { kind: decision.kind, to: decision.to, from: version, wave: decision.wave, slot: decision.slot, ...(held ? { held: { value: held, revision: held.revision } } : {}), minHealthyMs: wave.minHealthy },
    );
    if (!result.ran) {
      await this.report(service, loop, { state: "idle", reason: result.why === "slot-taken" ? "slots-full" : "suspended", version }, Date.now());
      return;
    }
    const inventory = await this.options.agent.inventory();
    const now = Date.now();
    const active = inventory.services.find((entry) => entry.name === service)?.activeVersion;
    const durationsMs = [...(loop.report?.durationsMs ?? []), result.durationMs].slice(-5);
    this.event(service, { type: "node-finished", wave: decision.wave, to: decision.to, kind: result.kind, ...(result.error ? { error: result.error } : {}), durationMs: result.durationMs });
    if (result.kind === "ok") {
      await this.report(service, loop, { state: "done", reason: "on-target", version: active, reachedAt: now, durationsMs, backoffUntil: undefined, backoffAttempts: 0 }, now);
    } else if (result.kind === "environment") {
      const attempts = loop.backoffTarget === decision.to ? (loop.report?.backoffAttempts ?? 0) + 1 : 1;
      loop.backoffTarget = decision.to;
      const backoffUntil = now + Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (attempts - 1));
      logger.warn({ service, error: result.error, attempts, backoffUntil: new Date(backoffUntil).toISOString() }, "unattended upgrade hit an environment failure; backing off (not charged)");
      await this.report(service, loop, { state: "backoff", reason: "backoff", version: active, nextEligibleAt: backoffUntil, backoffUntil, backoffAttempts: attempts, durationsMs, detail: result.error?.message }, now);
    } else {
      const reason = result.error ? `${result.error.code}: ${result.error.message}` : `upgrade ended ${result.outcome?.result ?? "badly"}`;
      await this.report(service, loop, { state: "failed", reason: "failed-here", version: active, durationsMs, detail: reason }, now);
    }
    store.notify(cluster, service, "node", loop.report ? { report: loop.report } : {});
    // Go on at once, from a fresh read: this node's next hop or step must not wait for a poll.
    loop.readNext = true;
    loop.again = true;
  }

  /** The pushed catalog, handed to the engine when there is one (else the config's stays). */
  private async refreshCatalog(): Promise<Catalog | undefined> {
    const catalog = await readPushedCatalog(this.options.catalogKv, this.options.cluster, this.options.publicKeys);
    if (catalog) this.options.agent.useCatalog(catalog);
    return catalog;
  }

  /** Writes this node's report when it changed, or when the last write is a keepalive old. */
  private async report(service: string, loop: ServiceLoop, change: Partial<NodeReport> & { state: NodeReport["state"]; reason: string; detail?: string | undefined }, now: number): Promise<void> {
    const { detail: _detail, ...fields } = change;
    const base: NodeReport = loop.report ?? { node: this.options.node, labels: {}, state: "idle", reason: "", seenAt: now, durationsMs: [], backoffAttempts: 0 };
    const next: NodeReport = { ...base, ...fields, node: this.options.node, labels: { ...this.options.labels }, seenAt: now };
    for (const key of Object.keys(next) as (keyof NodeReport)[]) if (next[key] === undefined) delete next[key];
    const changed = JSON.stringify({ ...next, seenAt: 0 }) !== JSON.stringify({ ...(loop.report ?? {}), seenAt: 0 });
    if (!changed && now - loop.reportedAt < loop.keepaliveMs) return;
    loop.report = next;
    loop.reportedAt = now;
    this.stats.reportPuts++;
    await this.options.store.putReport(this.options.cluster, service, next);
    if (changed) this.event(service, { type: "node-state", state: next.state, reason: next.reason, ...(next.nextEligibleAt ? { nextEligibleAt: next.nextEligibleAt } : {}), ...(change.detail ? { detail: change.detail } : {}) });
  }

  private event(service: string, event: Record<string, unknown>): void {
    this.options.nc.publish(unattendedEventsSubject(this.options.cluster), encodeJson({ ...event, node: this.options.node, service, at: new Date().toISOString() }));
  }
}
