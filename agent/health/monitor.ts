import { EventEmitter } from "node:events";
import type { ProbeConfig } from "../config.ts";
import type { ServingStatus } from "../node-agent-api.ts";
import { createLogProbeStates, type LogProbeState } from "./log-probe.ts";
import { checkProbe, type ProbeResult } from "./probes.ts";
import type { ProcessTracker } from "../exec/index.ts";

export interface HealthMonitorOptions {
  probes: readonly ProbeConfig[];
  /** Pause between the end of one round of checks and the start of the next. */
  intervalMs: number;
  /** Working dir and env of command probes (usually the `current` release dir and the service env). */
  cwd: string;
  env: Record<string, string>;
  /** Records command probes while they run (see ProcessTracker). */
  tracker?: ProcessTracker;
  /** Command probes run as this user. */
  user?: string;
}

export interface StatusChange {
  previous: ServingStatus;
  /** The hold reason, or the failing probes' details, or "all probes healthy". */
  reason: string;
}

export interface HealthMonitorEvents {
  /** The reported status changed (emitted only on a change). */
  change: [status: ServingStatus, change: StatusChange];
  /** A round of checks finished (also during a hold); for logs and inventory. */
  check: [results: ProbeResult[]];
}

/**
 * Watches one service's probes in the background and keeps its serving status for
 * grpc.health.v1 and the inventory.
 *
 * Status reported by `status`:
 * - UNKNOWN: no round of checks has finished since construction.
 * - SERVING: the last round found every probe healthy, and nothing holds the service.
 * - NOT_SERVING: a probe failed in the last round, or the agent holds the service (drain, stop, upgrade).
 *
 * Rounds run every `intervalMs` after the previous one ended, so they never overlap; all timers
 * are unref'd. During a `hold()` rounds continue (see `lastResults`) but do not change the status.
 *
 * Log probes in the monitor:
 * - fail lines count from `start()` and from each `release()` on, and stay failed (sticky) until the
 *   next `release()` or restart: a fatal line means the running process is broken even when its
 *   port still answers, and the lines the old process wrote while being stopped during an upgrade
 *   must not count against the new one.
 * - readyPattern is ignored: it is a one-time startup gate that `waitHealthy` checks before the
 *   agent releases the hold. Requiring it again here would keep the service NOT_SERVING forever,
 *   since the ready line was logged before `release()` (or long before an agent restart).
 *
 * `change` and `check` listeners must not throw.
 */
export class HealthMonitor extends EventEmitter<HealthMonitorEvents> {
  private readonly probes: readonly ProbeConfig[];
  private readonly intervalMs: number;
  private readonly cwd: string;
  private readonly env: Record<string, string>;
  private readonly tracker: ProcessTracker | undefined;
  private readonly user: string | undefined;
  private observed: ServingStatus = "UNKNOWN";
  private observedReason = "no check yet";
  private reported: ServingStatus = "UNKNOWN";
  private holding: { status: ServingStatus; reason: string } | undefined;
  private results: ProbeResult[] = [];
  /** Log probe states of the current generation (taken at start() / release()). */
  private logStates: Promise<Map<ProbeConfig, LogProbeState>> = Promise.resolve(new Map<ProbeConfig, LogProbeState>());
  private running = false;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private rerun = false;
  /** Bumped by start() and release(): results of a round begun before are dropped. */
  private generation = 0;

  constructor(options: HealthMonitorOptions) {
    super();
    this.probes = options.probes.map(withoutReadyPattern);
    this.intervalMs = options.intervalMs;
    this.cwd = options.cwd;
    this.env = options.env;
    this.tracker = options.tracker;
    this.user = options.user;
  }

  /** The status to report now (the hold's, if any, else the last round's). */
  get status(): ServingStatus {
    return this.reported;
  }

  /** The active hold, if the agent holds the service. */
  get held(): { status: ServingStatus; reason: string } | undefined {
    return this.holding;
  }

  /** Results of the last finished round. */
  get lastResults(): readonly ProbeResult[] {
    return this.results;
  }

  /** Starts checking at once, then every intervalMs. Log probes count lines from now on. No-op when running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.controller = new AbortController();
    this.resetRound();
    this.schedule(0);
  }

  /** Stops checking, aborts a round in progress and waits for it; leaves no timer behind. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    await this.inFlight;
  }

  /** Forces `status` (typically NOT_SERVING) until `release()`, whatever the probes say. */
  hold(status: ServingStatus, reason: string): void {
    this.holding = { status, reason };
    this.publish(reason);
  }

  /**
   * Ends the hold. The held status stays until a round started after this call finishes (one is
   * started at once), and log probes count lines from now on. When the monitor is not running the
   * status becomes UNKNOWN.
   */
  release(): void {
    const was = this.holding;
    if (was === undefined) return;
    this.holding = undefined;
    this.resetRound();
    if (this.running) {
      this.observed = was.status;
      this.observedReason = was.reason;
      this.schedule(0);
    } else {
      this.observed = "UNKNOWN";
      this.observedReason = "released while not monitoring";
    }
    this.publish(this.observedReason);
  }

  private resetRound(): void {
    this.generation += 1;
    this.logStates = createLogProbeStates(this.probes);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.inFlight) {
      if (delayMs === 0) this.rerun = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.runRound(), delayMs);
    this.timer.unref();
  }

  private runRound(): void {
    this.timer = undefined;
    if (!this.running || this.inFlight || !this.controller) return;
    const round = this.check(this.controller.signal, this.generation)
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = undefined;
        const now = this.rerun;
        this.rerun = false;
        this.schedule(now ? 0 : this.intervalMs);
      });
    this.inFlight = round;
  }

  private async check(signal: AbortSignal, generation: number): Promise<void> {
    let results: ProbeResult[];
    try {
      const logStates = await this.logStates;
      results = await Promise.all(
        this.probes.map((probe) =>
          checkProbe(probe, { cwd: this.cwd, env: this.env, signal, logState: logStates.get(probe), ...(this.tracker ? { tracker: this.tracker } : {}), ...(this.user === undefined ? {} : { user: this.user }) }),
        ),
      );
    } catch (err) {
      if (signal.aborted) return;
      results = [{ healthy: false, probe: "monitor", detail: err instanceof Error ? err.message : String(err) }];
    }
    if (signal.aborted || generation !== this.generation) return;
    this.results = results;
    const failing = results.filter((result) => !result.healthy);
    this.observed = failing.length === 0 ? "SERVING" : "NOT_SERVING";
    this.observedReason = failing.length === 0 ? "all probes healthy" : failing.map((result) => `${result.probe} -> ${result.detail}`).join("; ");
    this.emit("check", results);
    this.publish(this.observedReason);
  }

  private publish(reason: string): void {
    const next = this.holding?.status ?? this.observed;
    if (next === this.reported) return;
    const previous = this.reported;
    this.reported = next;
    this.emit("change", next, { previous, reason: this.holding?.reason ?? reason });
  }
}

function withoutReadyPattern(probe: ProbeConfig): ProbeConfig {
  if (probe.type !== "log" || probe.readyPattern === undefined) return probe;
  const { readyPattern: _ready, ...rest } = probe;
  return rest;
}
