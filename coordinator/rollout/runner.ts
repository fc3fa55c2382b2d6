import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { applyDecision, applyReport, decideNext, type Decision, type Report, type StepCommand } from "./decide.ts";
import type { RolloutEffects } from "./effects.ts";
import type { ClusterLease } from "./lease.ts";
import { isTerminal, type RolloutState } from "./state.ts";
import type { RolloutStore, Versioned } from "./store.ts";
import { Waker } from "./waker.ts";

export interface RolloutRunnerDeps {
  store: RolloutStore<RolloutState>;
  lease: ClusterLease;
  effects: RolloutEffects;
  logger: Logger;
  now?: () => number;
  /** How often the state is re-read while waiting (controls from other machines land in KV). */
  pollMs?: number;
  /** Back-off before re-sending a step whose node was unreachable or busy. */
  retryMs?: number;
}

/**
 * Drives one rollout to a terminal phase: reads the state from KV, asks the pure `decideNext` what
 * to do, records the decision by compare-and-set (before acting, so a successor knows what is in
 * flight), carries it out through the effects, and folds the results back in with `applyReport`.
 * Holds the cluster lease throughout; losing it (fenced out by another coordinator) stops the drive.
 * In-flight steps found at start are re-sent with their recorded idempotency keys, never as new
 * attempts, so a node is never upgraded twice.
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
    await this.deps.lease.acquire(this.now());
    const renew = setInterval(() => {
      this.deps.lease.renew(this.now()).catch((err) => control.abort(toHoistError(err, "LEASE_LOST")));
    }, 2000);
    const log = this.deps.logger.child({ cluster, rollout: id });
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
    } finally {
      clearInterval(renew);
      signal?.removeEventListener("abort", stopAll);
      await this.deps.lease.release().catch(() => undefined);
    }
  }

  private async load(cluster: string, id: string): Promise<Versioned<RolloutState>> {
    const loaded = await this.deps.store.load(cluster, id);
    if (!loaded) throw new HoistError("NOT_FOUND", `rollout ${id} of cluster ${cluster} does not exist`);
    return loaded;
  }

  /** Saves by compare-and-set after checking the lease is still ours; false when someone else wrote first. */
  private async save(next: RolloutState, revision: number): Promise<boolean> {
    await this.deps.lease.renew(this.now());
    try {
      await this.deps.store.save(next, revision);
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
        const marked = applyDecision(state, decision, now);
        if (!(await this.save(marked, revision))) return;
        this.publish(marked, "transition", "preflight started");
        const result = await this.deps.effects.preflight(marked);
        await this.fold(state.cluster, state.id, { kind: "preflight", ok: result.ok, messages: result.messages, at: this.now() });
        return;
      }
      case "send": {
        const next = applyDecision(state, decision, now);
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
        const next = applyDecision(state, decision, now);
        if (!(await this.save(next, revision))) return;
        const message = "reason" in decision ? decision.reason : "message" in decision ? decision.message : `${decision.commands.length} step(s) timed out`;
        log.info({ from: state.phase, to: next.phase, event: decision.kind }, message);
        this.publish(next, "transition", message);
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
        this.deps.effects.publish({
          type: "step",
          rollout: command.rollout,
          cluster: command.cluster,
          phase: "running",
          node: command.node,
          key: command.key,
          step: command.step,
          outcome: result.outcome,
          message: `${command.node}: ${command.step} ${result.outcome}${result.error ? ` (${result.error.code}: ${result.error.message})` : ""}`,
          at: new Date().toISOString(),
        });
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
      const next = applyReport(loaded.value, report);
      if (await this.save(next, loaded.revision)) {
        this.waker.notify();
        return;
      }
    }
    throw new HoistError("CONFLICT", `could not record a report for rollout ${id}: the state kept changing`);
  }

  private publish(state: RolloutState, type: "transition", message: string): void {
    this.deps.effects.publish({ type, rollout: state.id, cluster: state.cluster, phase: state.phase, message, at: new Date().toISOString() });
  }

  /** Waits for steps still running here (their outcomes must reach the state before we leave). */
  private async settle(): Promise<void> {
    await Promise.allSettled([...this.outstanding.values()]);
  }
}
