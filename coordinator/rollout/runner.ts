import { setTimeout as sleep } from "node:timers/promises";
import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import { retryBus, type BusWait } from "../../shared/bus/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { decideNext, type Decision } from "./decide.ts";
import type { RolloutEffects } from "./effects.ts";
import type { RolloutEvent } from "./events.ts";
import { foldDecision, foldReport, type Report } from "./fold.ts";
import type { ClusterLease } from "./lease.ts";
import { isTerminal, type RolloutState } from "./state.ts";
import type { StepCommand } from "./step-command.ts";
import type { RolloutStore, Versioned } from "./store.ts";
import { Waker } from "./waker.ts";

export interface RolloutRunnerDeps {
  store: RolloutStore;
  lease: ClusterLease;
  effects: RolloutEffects;
  logger: Logger;
  now?: () => number;
  /** How often the state is re-read while waiting (controls from other machines land in KV). */
  pollMs?: number;
  /** Back-off before re-sending a step whose node was unreachable or busy. */
  retryMs?: number;
  /**
   * How long state loads, saves and lease renewals are retried while NATS or JetStream does not
   * answer before the drive gives up with UNAVAILABLE (default 120 s; the rollout stays recorded
   * and `hoist rollout drive` resumes it).
   */
  busOutageMs?: number;
  /** Told when the drive starts waiting for NATS, and about every 5 s while it waits. */
  onBusWait?: (wait: BusWait) => void;
}

/** How often the lease is renewed (its TTL is 10 s). */
const RENEW_EVERY_MS = 2000;

/**
 * Drives one rollout to a terminal phase: reads the state from KV, asks the pure `decideNext` what
 * to do, records the decision by compare-and-set (before acting, so a successor knows what is in
 * flight), carries it out through the effects, and folds the results back in with `foldReport`; each fold says which events to publish once its state is saved.
 * Holds the cluster lease throughout; losing it (fenced out by another coordinator) stops the drive.
 * In-flight steps found at start are re-sent with their recorded idempotency keys, never as new
 * attempts, so a node is never upgraded twice.
 *
 * NATS outages: every load, save and lease renewal is retried with back-off (`retryBus`) for up
 * to `busOutageMs`, saying "waiting for NATS" meanwhile; the lease is kept unless another holder is
 * proven by a lost compare-and-set. A save whose answer was lost but which landed shows up as a
 * CONFLICT on retry: the state is reloaded and the recorded decision found in flight, so the same
 * keys are sent again, never a new attempt.
 */
export class RolloutRunner {
  private readonly now: () => number;
  private readonly waker = new Waker();
  private readonly outstanding = new Map<string, Promise<void>>();
  private readonly retryAt = new Map<string, number>();

  constructor(private readonly deps: RolloutRunnerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async drive(cluster: string, id: string, signal?: AbortSignal): Promise<RolloutState> {
    const control = new AbortController();
    const stopAll = () => control.abort(signal?.reason);
    signal?.addEventListener("abort", stopAll, { once: true });
    this.signal = control.signal;
    const log = this.deps.logger.child({ cluster, rollout: id });
    this.log = log;
    await this.bus(`taking the lease of cluster ${cluster}`, () => this.deps.lease.acquire(this.now()));
    const renewal = new AbortController();
    const renewing = this.keepRenewing(control, renewal.signal);
    try {
      for (;;) {
        if (control.signal.aborted) throw toHoistError(control.signal.reason ?? new HoistError("CANCELLED", "stopped"), "CANCELLED");
        const loaded = await this.load(cluster, id);
        const state = loaded.value;
        if (isTerminal(state.phase)) {
          await this.settle();
          return state;
        }
        const now = this.now();
        const decision = decideNext(state, now);
        await this.carryOut(loaded, decision, now, log, control.signal);
      }
    } catch (err) {
      // A wait cut short because the renewal loop proved the lease lost: say that, not "cancelled".
      const reason: unknown = control.signal.reason;
      if (control.signal.aborted && !signal?.aborted && reason instanceof HoistError && reason.code !== "CANCELLED") throw reason;
      throw err;
    } finally {
      renewal.abort();
      await renewing;
      signal?.removeEventListener("abort", stopAll);
      await this.deps.lease.release().catch(() => undefined);
    }
  }

  private signal: AbortSignal | undefined;
  private log: Logger | undefined;

  /**
   * Renews the lease every 2 s until `stop` aborts, riding out NATS trouble; stops the drive (through
   * `control`) only when the lease is proven lost or NATS stayed away longer than `busOutageMs`.
   */
  private async keepRenewing(control: AbortController, stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      try {
        await sleep(RENEW_EVERY_MS, undefined, { signal: stop });
      } catch {
        return;
      }
      try {
        await this.bus("renewing the lease", () => this.deps.lease.renew(this.now()), stop);
      } catch (err) {
        if (stop.aborted) return;
        control.abort(toHoistError(err, "LEASE_LOST"));
        return;
      }
    }
  }

  /** Retries a KV operation through NATS trouble, telling the operator it waits for NATS. */
  private bus<T>(what: string, fn: () => Promise<T>, signal = this.signal): Promise<T> {
    return retryBus(what, fn, {
      budgetMs: this.deps.busOutageMs ?? 120_000,
      ...(signal ? { signal } : {}),
      onWait: (wait) => {
        (this.log ?? this.deps.logger).warn({ what: wait.what, code: wait.error.code, err: wait.error.message, waitedMs: wait.waitedMs }, "waiting for NATS");
        this.deps.onBusWait?.(wait);
      },
    });
  }

  private async load(cluster: string, id: string): Promise<Versioned<RolloutState>> {
    const loaded = await this.bus(`reading rollout ${id}`, () => this.deps.store.load(cluster, id));
    if (!loaded) throw new HoistError("NOT_FOUND", `rollout ${id} of cluster ${cluster} does not exist`);
    return loaded;
  }

  /**
   * Saves by compare-and-set after checking the lease is still ours; false when someone else wrote
   * first (or our own earlier try landed although its answer was lost: the caller reloads either way).
   */
  private async save(next: RolloutState, revision: number): Promise<boolean> {
    await this.bus("checking the lease", () => this.deps.lease.renew(this.now()));
    try {
      await this.bus(`saving rollout ${next.id}`, () => this.deps.store.save(next, revision));
      return true;
    } catch (err) {
      if (err instanceof HoistError && err.code === "CONFLICT") return false;
      throw err;
    }
  }

  private async carryOut(loaded: Versioned<RolloutState>, decision: Decision, now: number, log: Logger, signal: AbortSignal): Promise<void> {
    const { value: state, revision } = loaded;
    switch (decision.kind) {
      case "preflight": {
        const { state: marked, events } = foldDecision(state, decision, now);
        if (!(await this.save(marked, revision))) return;
        this.publishAll(events);
        const result = await this.bus("preflight", () => this.deps.effects.preflight(marked));
        await this.fold(state.cluster, state.id, { kind: "preflight", ok: result.ok, messages: result.messages, at: this.now() });
        return;
      }
      case "send": {
        const { state: next } = foldDecision(state, decision, now);
        if (!(await this.save(next, revision))) return;
        for (const command of decision.commands) {
          log.info({ node: command.node, step: command.step, track: command.track, key: command.key }, "step sent");
          this.launch(command, signal);
        }
        return;
      }
      case "wait": {
        for (const command of decision.inFlight) this.launch(command, signal);
        const wakeIn = decision.wakeAt === undefined ? this.pollMs : Math.min(this.pollMs, decision.wakeAt - now);
        await this.waker.wait(wakeIn, signal);
        return;
      }
      case "none":
        await this.waker.wait(this.pollMs, signal);
        return;
      default: {
        const { state: next, events } = foldDecision(state, decision, now);
        if (!(await this.save(next, revision))) return;
        for (const event of events) log.info({ from: state.phase, to: next.phase, event: decision.kind }, event.message);
        this.publishAll(events);
      }
    }
  }

  private get pollMs(): number {
    return this.deps.pollMs ?? 500;
  }

  /** Runs a step unless it already runs here or waits out a retry back-off; its result is folded in. */
  private launch(command: StepCommand, signal: AbortSignal): void {
    if (this.outstanding.has(command.key)) return;
    if ((this.retryAt.get(command.key) ?? 0) > this.now()) return;
    const run = this.deps.effects
      .runStep(command, signal)
      .then(async (result) => {
        this.retryAt.delete(command.key);
        await this.fold(command.cluster, command.rollout, { kind: "step", key: command.key, outcome: result.outcome, ...(result.error ? { error: result.error } : {}), at: this.now() });
      })
      .catch((err) => {
        // Unreachable, busy or timed-out nodes are retried with the same key until the step's deadline,
        // after which decideNext expires the step.
        const error = toHoistError(err);
        this.deps.logger.warn({ node: command.node, step: command.step, code: error.code, err: error.message }, "step not answered; will retry with the same key");
        this.retryAt.set(command.key, this.now() + (this.deps.retryMs ?? 1000));
      })
      .finally(() => {
        this.outstanding.delete(command.key);
        this.waker.notify();
      });
    this.outstanding.set(command.key, run);
  }

  /** Folds a report into the stored state by compare-and-set, reloading on conflict. */
  private async fold(cluster: string, id: string, report: Report): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const loaded = await this.load(cluster, id);
      const { state: next, events } = foldReport(loaded.value, report);
      if (await this.save(next, loaded.revision)) {
        this.publishAll(events);
        this.waker.notify();
        return;
      }
    }
    throw new HoistError("CONFLICT", `could not record a report for rollout ${id}: the state kept changing`);
  }

  /** Events are progress for people watching: one lost while NATS is away must not stop the drive. */
  private publishAll(events: RolloutEvent[]): void {
    for (const event of events) {
      try {
        this.deps.effects.publish(event);
      } catch (err) {
        this.deps.logger.warn({ err: toHoistError(err).message, event: event.message }, "could not publish a rollout event");
      }
    }
  }

  /** Waits for steps still running here (their outcomes must reach the state before we leave). */
  private async settle(): Promise<void> {
    await Promise.allSettled([...this.outstanding.values()]);
  }
}
