import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import { retryBus, type BusWait } from "../../shared/bus/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { decideNext, type Decision } from "./decide.ts";
import { inFlightCommands, inFlightSteps } from "./work.ts";
import type { RolloutEffects } from "./effects.ts";
import type { RolloutEvent } from "./events.ts";
import { foldDecision, foldReport, foldStepReports, type Folded, type Report, type StepReport } from "./fold.ts";
import type { ClusterLease } from "./lease.ts";
import { isTerminal, type RolloutState } from "./state.ts";
import type { StepCommand } from "./step-command.ts";
import type { RolloutJournal, RolloutStore } from "./store.ts";
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

/** How many step commands one commit marks in flight, and how many step results one commit folds. */
const SEND_SLICE = 200;

/** Step results folded into the state a decision was made on, not committed yet; `base` is the committed state they were folded into. */
interface Unsaved {
  base: RolloutState;
  reports: StepReport[];
  /** `reports` folded on `base`: reused when the commit finds `base` still current (no second fold). */
  folded: Folded;
}

/** `unsaved.reports` folded on `state`: the fold already made when `state` is still its base. */
function foldOn(state: RolloutState, unsaved: Unsaved): Folded {
  return state === unsaved.base ? unsaved.folded : foldStepReports(state, unsaved.reports);
}

/**
 * Drives one rollout to a terminal phase. It is the rollout's single writer: it keeps the state in
 * memory (a RolloutJournal), asks the pure `decideNext` what to do, commits the decision (before
 * acting, so a successor knows what is in flight), carries it out through the effects, and folds
 * the results back in with `foldStepReports` (every result that came in since it last decided, in
 * one copy and one commit, before it decides again); commits run one after another in this process, so its own
 * writes never refuse each other, and each writes only what changed (store.ts). Each fold says which
 * events to publish once its commit landed. Other writers (an operator's control, a coordinator
 * that took over) are noticed by one get of the rollout's revision per poll, and fence this one out
 * of its next commit.
 * Holds the cluster lease throughout, renewed on its own timer; losing it (fenced out by another
 * coordinator) stops the drive. In-flight steps found at start are re-sent with their recorded
 * idempotency keys, never as new attempts, so a node is never upgraded twice.
 *
 * NATS outages: every read, commit and lease renewal is retried with back-off (`retryBus`) for up
 * to `busOutageMs`, saying "waiting for NATS" meanwhile; the lease is kept unless another holder is
 * proven by a lost compare-and-set. A commit whose answer was lost reads the rollout again: a
 * decision that landed is then found in flight, so the same keys are sent again, never a new attempt.
 */
export class RolloutRunner {
  private readonly now: () => number;
  private readonly waker = new Waker();
  private readonly outstanding = new Map<string, { run: Promise<void>; stop: AbortController }>();
  private readonly retryAt = new Map<string, number>();
  /** Step results not folded yet, by key: the drive folds all of them at once before it decides again. */
  private readonly reported = new Map<string, StepReport>();

  constructor(private readonly deps: RolloutRunnerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async drive(cluster: string, id: string, signal?: AbortSignal): Promise<RolloutState> {
    const control = new AbortController();
    // The drive's waits (NATS retries, the waker) listen for its end; several at once is not a leak.
    setMaxListeners(0, control.signal);
    const stopAll = () => control.abort(signal?.reason);
    // The drive's end stops every step still running here: one listener, not one per step (an
    // EventTarget looks through its listeners on every add and remove, and 3,000 steps run at once).
    control.signal.addEventListener("abort", () => this.stopOutstanding(control.signal.reason), { once: true });
    signal?.addEventListener("abort", stopAll, { once: true });
    this.signal = control.signal;
    const log = this.deps.logger.child({ cluster, rollout: id });
    this.log = log;
    this.ref = { cluster, id };
    await this.bus(`taking the lease of cluster ${cluster}`, () => this.deps.lease.acquire(this.now()));
    const renewal = new AbortController();
    const renewing = this.keepRenewing(control, renewal.signal);
    try {
      // The first commit of this drive names its driver: it moves the rollout's revision, so a
      // coordinator that lost the lease while paused is refused at its next write.
      const lease = { owner: this.deps.lease.owner, epoch: this.deps.lease.epoch };
      await this.mutate("recording the driver", (state) =>
        (state.driver?.owner === lease.owner && state.driver.epoch === lease.epoch) || isTerminal(state.phase) ? { state } : { state: { ...state, driver: { ...lease, since: this.now() } } },
      );
      for (;;) {
        if (control.signal.aborted) throw toHoistError(control.signal.reason ?? new HoistError("CANCELLED", "stopped"), "CANCELLED");
        const committed = await this.current();
        if (isTerminal(committed.phase)) {
          await this.settle();
          return this.journal?.state ?? committed;
        }
        // The results that came in are folded first (not saved yet): they are saved with the decision, in one commit.
        const reports = this.takeReported(SEND_SLICE);
        const unsaved = reports.length > 0 ? { base: committed, reports, folded: foldStepReports(committed, reports) } : undefined;
        const state = unsaved ? unsaved.folded.state : committed;
        const now = this.now();
        const decided = decideNext(state, now);
        // Results still queued (a burst above SEND_SLICE) are steps that ended: none may be expired
        // before they are folded, so an expiry waits for the next round, which folds the next slice.
        const decision: Decision = decided.kind === "expire" && this.reported.size > 0 ? { kind: "none" } : decided;
        await this.carryOut(state, decision, now, log, control.signal, unsaved);
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
      this.deps.effects.close?.();
      await this.deps.lease.release().catch(() => undefined);
    }
  }

  private signal: AbortSignal | undefined;
  private log: Logger | undefined;
  private ref: { cluster: string; id: string } | undefined;
  private journal: RolloutJournal | undefined;
  private opening: Promise<RolloutJournal> | undefined;
  private lastCheckAt = 0;

  /** Commits that lost to a writer outside this process (an operator's control, a takeover): for the bench and the logs. */
  conflicts = 0;

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

  /** The journal of the rollout, opened (read whole) when there is none or the last one failed. */
  private openJournal(): Promise<RolloutJournal> {
    if (this.journal) return Promise.resolve(this.journal);
    this.opening ??= (async () => {
      const { cluster, id } = this.ref!;
      try {
        const journal = await this.deps.store.open(cluster, id);
        if (!journal) throw new HoistError("NOT_FOUND", `rollout ${id} of cluster ${cluster} does not exist`);
        this.journal = journal;
        return journal;
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening;
  }

  /** Retires a journal so that only the next one writes (one writer per process, always). */
  private dropJournal(journal: RolloutJournal, reason: string): void {
    journal.retire(reason);
    if (this.journal === journal) this.journal = undefined;
  }

  /**
   * The state to decide on: this process's own last commit, read again only when another writer
   * committed since (checked with one get of the rollout's revision, at most every pollMs).
   */
  private async current(): Promise<RolloutState> {
    return this.bus(`reading rollout ${this.ref!.id}`, async () => {
      const journal = await this.openJournal();
      if (this.now() - this.lastCheckAt < this.pollMs) return journal.state;
      this.lastCheckAt = this.now();
      if (!(await journal.changedElsewhere())) return journal.state;
      this.dropJournal(journal, "another writer committed");
      return (await this.openJournal()).state;
    });
  }

  /**
   * Folds and commits through the journal, riding out NATS trouble; a commit that lost to another
   * writer reopens and folds again. `change` must return its input state untouched to commit nothing.
   */
  private mutate<T extends { state: RolloutState }>(what: string, change: (state: RolloutState) => T): Promise<T> {
    return this.bus(what, async () => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const journal = await this.openJournal();
        try {
          return await journal.update(change);
        } catch (err) {
          this.dropJournal(journal, "a commit failed");
          if (!(err instanceof HoistError) || err.code !== "CONFLICT") throw err;
          this.conflicts += 1;
          (this.log ?? this.deps.logger).info({ what, err: err.message }, "the rollout was changed by another writer; reading it again");
        }
      }
      throw new HoistError("CONFLICT", `${what}: rollout ${this.ref!.id} kept changing under us`);
    });
  }

  /**
   * Folds a decision made on `decidedOn` and commits it, with the step results `unsaved` that
   * `decidedOn` already holds (folded again on the state as committed: one commit for both);
   * nothing (undefined) when the state moved on meanwhile (another writer's commit came first):
   * the results are then committed alone, and the caller decides again. The results' events are
   * published here; the decision's are returned.
   */
  private async commitDecision(decidedOn: RolloutState, decision: Decision, now: number, unsaved?: Unsaved): Promise<{ events: RolloutEvent[]; state: RolloutState } | undefined> {
    let stale = false;
    const folded = await this.mutate(`saving rollout ${decidedOn.id}`, (state) => {
      const reported = unsaved ? foldOn(state, unsaved) : { state, events: [] };
      stale = state !== (unsaved?.base ?? decidedOn);
      if (stale) return { state: reported.state, reported: reported.events, events: [] };
      const decided = foldDecision(reported.state, decision, now);
      return { state: decided.state, reported: reported.events, events: decided.events };
    });
    this.publishAll(folded.reported);
    return stale ? undefined : folded;
  }

  /** Commits step results folded into a decision that itself commits nothing (wait, none). */
  private async saveUnsaved(unsaved: Unsaved | undefined): Promise<void> {
    if (!unsaved) return;
    const folded = await this.mutate(`recording ${unsaved.reports.length} step result(s)`, (state) => foldOn(state, unsaved));
    this.publishAll(folded.events);
  }

  private async carryOut(state: RolloutState, decision: Decision, now: number, log: Logger, signal: AbortSignal, unsaved?: Unsaved): Promise<void> {
    switch (decision.kind) {
      case "preflight": {
        const folded = await this.commitDecision(state, decision, now, unsaved);
        if (!folded) return;
        this.publishAll(folded.events);
        const result = await this.bus("preflight", () => this.deps.effects.preflight(folded.state));
        await this.fold({ kind: "preflight", ok: result.ok, messages: result.messages, at: this.now() });
        return;
      }
      case "send": {
        // A big batch goes out one slice per commit (a write stays well below NATS's max_payload), and
        // the drive decides again after each: the results that came in meanwhile are folded into the
        // next slice's commit, and a node whose step ended gets its next step there, not after every
        // slice of the burst (the rest of this decision is decided again, those nodes not in flight yet).
        const commands = decision.commands.slice(0, SEND_SLICE);
        const folded = await this.commitDecision(state, { ...decision, commands }, now, unsaved);
        if (!folded) return;
        for (const command of commands) {
          log.info({ node: command.node, step: command.step, track: command.track, key: command.key }, "step sent");
          this.launch(command, signal);
        }
        return;
      }
      case "wait": {
        await this.saveUnsaved(unsaved);
        // Only a step in flight that does not run here (after a takeover, or a retry's back-off) needs launching: the commands are built then.
        if (inFlightSteps(state).some((ref) => !this.outstanding.has(ref.flight.key) && !this.reported.has(ref.flight.key))) {
          for (const command of decision.inFlight) this.launch(command, signal);
        }
        const wakeIn = decision.wakeAt === undefined ? this.pollMs : Math.min(this.pollMs, decision.wakeAt - now);
        await this.waitUnlessQueued(wakeIn, signal);
        return;
      }
      case "none":
        await this.saveUnsaved(unsaved);
        await this.waitUnlessQueued(this.pollMs, signal);
        return;
      default: {
        const folded = await this.commitDecision(state, decision, now, unsaved);
        if (!folded) return;
        for (const event of folded.events) log.info({ from: state.phase, to: folded.state.phase, event: decision.kind }, event.message);
        this.publishAll(folded.events);
        if (decision.kind === "expire") this.abandonStale(folded.state);
      }
    }
  }

  /** Waits for a result, a control or `ms`; not at all while results are queued (a burst drains slice after slice without a poll between). */
  private async waitUnlessQueued(ms: number, signal: AbortSignal): Promise<void> {
    if (this.reported.size > 0) return;
    await this.waker.wait(ms, signal);
  }

  private get pollMs(): number {
    return this.deps.pollMs ?? 500;
  }

  /** Runs a step unless it already runs here or waits out a retry back-off; its result is folded in. */
  private launch(command: StepCommand, signal: AbortSignal): void {
    if (this.outstanding.has(command.key) || this.reported.has(command.key)) return;
    if ((this.retryAt.get(command.key) ?? 0) > this.now()) return;
    const stop = new AbortController();
    if (signal.aborted) stop.abort(signal.reason);
    const run = this.deps.effects
      .runStep(command, stop.signal)
      .then((result) => {
        this.retryAt.delete(command.key);
        this.reported.set(command.key, { kind: "step", key: command.key, outcome: result.outcome, ...(result.error ? { error: result.error } : {}), at: this.now() });
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
    this.outstanding.set(command.key, { run, stop });
  }

  /** Stops every step still running here (the drive ended). */
  private stopOutstanding(reason: unknown): void {
    for (const { stop } of this.outstanding.values()) stop.abort(reason);
  }

  /** Takes up to `max` of the step results not folded yet, oldest first. */
  private takeReported(max: number): StepReport[] {
    const taken: StepReport[] = [];
    for (const [key, report] of this.reported) {
      if (taken.length >= max) break;
      taken.push(report);
      this.reported.delete(key);
    }
    return taken;
  }

  /**
   * Commits every step result still queued (the drive is ending), SEND_SLICE per commit as the drive
   * does: the commit's delta in `wal` carries each changed node (~300 bytes), far below NATS's max_payload.
   */
  private async foldReported(): Promise<void> {
    for (let reports = this.takeReported(SEND_SLICE); reports.length > 0; reports = this.takeReported(SEND_SLICE)) {
      const folded = await this.mutate(reports.length === 1 ? `recording ${reports[0]!.key}` : `recording ${reports.length} step results`, (state) => foldStepReports(state, reports));
      this.publishAll(folded.events);
    }
  }

  /** Folds a report (the preflight's result) into the state and commits it. */
  private async fold(report: Report): Promise<void> {
    const folded = await this.mutate(report.kind === "step" ? `recording ${report.key}` : `recording the ${report.kind}`, (state) => foldReport(state, report));
    this.publishAll(folded.events);
    this.waker.notify();
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

  /**
   * Stops the runs of steps the state no longer has in flight (expired: their answer would change
   * nothing), so that a health gate or a re-ask loop of a timed-out step does not keep the drive,
   * and the process, waiting long after the rollout ended.
   */
  private abandonStale(state: RolloutState): void {
    const inFlight = new Set(inFlightCommands(state).map((command) => command.key));
    for (const [key, { stop }] of this.outstanding) {
      if (!inFlight.has(key)) stop.abort(new HoistError("CANCELLED", `step ${key} is no longer in flight`));
    }
  }

  /** Waits for steps still running here (their outcomes must reach the state before we leave); expired ones are stopped. */
  private async settle(): Promise<void> {
    if (this.journal) this.abandonStale(this.journal.state);
    await Promise.allSettled([...this.outstanding.values()].map((entry) => entry.run));
    await this.foldReported();
  }
}
