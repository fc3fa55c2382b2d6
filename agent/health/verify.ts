import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import type { ProbeConfig } from "../config.ts";
import { createLogProbeState, type LogProbeState } from "./log-probe.ts";
import { checkProbe, type ProbeResult } from "./probes.ts";
import type { ProcessTracker } from "../exec/index.ts";

export interface WaitHealthyOptions extends WorkOptions {
  /** All probes must be healthy without a break for this long. */
  minHealthyMs: number;
  /** ... and that must be reached within this long from the call. */
  healthyDeadlineMs: number;
  /** Pause between rounds of checks. */
  intervalMs: number;
  /** Working dir and env of command probes. */
  cwd: string;
  env: Record<string, string>;
  /** Records command probes while they run (see ProcessTracker). */
  tracker?: ProcessTracker;
  /** Command probes run as this user. */
  user?: string;
  /** Service name used in messages ("kv did not stay healthy ..."). */
  service?: string;
  /**
   * States of the log probes, keyed by probe object (see `createLogProbeStates`) or by file path
   * (one state may serve several probes on a file). Probes without one get a state made at the
   * call's start: only lines logged after the call count then. Pass states taken before the start
   * hook so a ready line logged during start counts.
   */
  logStates?: ReadonlyMap<ProbeConfig | string, LogProbeState>;
}

export interface HealthyOutcome {
  /** How long all probes had been healthy when it returned (>= minHealthyMs). */
  healthyForMs: number;
  /** Rounds of checks made. */
  checks: number;
}

/**
 * Waits until every probe has been healthy continuously for `minHealthyMs`, checking all probes
 * together every `intervalMs`. The streak starts at the end of the first all-healthy round and any
 * unhealthy round resets it. The deadline is checked between rounds, so it can be overshot by at
 * most one round (each probe is bounded by its own timeout).
 *
 * Reports `{ step: "verify", message, percent }` after each round, percent = streak / minHealthyMs.
 *
 * @throws HoistError HEALTH_CHECK_FAILED when the streak is not reached by the deadline, or at once
 *   when a log probe saw a fail line; the message names the failing probes and their last detail,
 *   `details` has `{ results, lastFailures, checks, healthyForMs, minHealthyMs, healthyDeadlineMs }`.
 * @throws HoistError CANCELLED or TIMEOUT when `signal` aborts.
 * @throws HoistError INVALID_ARGUMENT when `probes` is empty.
 */
export async function waitHealthy(probes: readonly ProbeConfig[], options: WaitHealthyOptions): Promise<HealthyOutcome> {
  const { minHealthyMs, healthyDeadlineMs, intervalMs, signal } = options;
  if (probes.length === 0) throw new HoistError("INVALID_ARGUMENT", "waitHealthy needs at least one probe; configure health.probes");
  throwIfAborted(signal);
  const who = options.service ?? "the service";
  const started = performance.now();
  const deadline = started + healthyDeadlineMs;
  const states = new Map<ProbeConfig, LogProbeState>();
  await Promise.all(
    probes.map(async (probe) => {
      if (probe.type !== "log") return;
      states.set(probe, options.logStates?.get(probe) ?? options.logStates?.get(probe.file) ?? (await createLogProbeState(probe.file)));
    }),
  );

  let streakSince: number | undefined;
  let lastFailures: ProbeResult[] = [];
  let checks = 0;
  for (;;) {
    const results = await Promise.all(
      probes.map((probe) =>
        checkProbe(probe, { cwd: options.cwd, env: options.env, signal, logState: states.get(probe), ...(options.tracker ? { tracker: options.tracker } : {}), ...(options.user === undefined ? {} : { user: options.user }) }),
      ),
    );
    checks += 1;
    const now = performance.now();
    const failing = results.filter((result) => !result.healthy);
    const details = (healthyForMs: number) => ({ results, lastFailures, checks, healthyForMs, minHealthyMs, healthyDeadlineMs });

    const fatal = failing.filter((result) => result.fatal);
    if (fatal.length > 0) {
      lastFailures = failing;
      throw new HoistError("HEALTH_CHECK_FAILED", `${who} failed its health check: ${describe(fatal)}; check the service's log`, {
        details: details(0),
      });
    }
    if (failing.length > 0) {
      streakSince = undefined;
      lastFailures = failing;
    } else {
      streakSince ??= now;
    }
    const healthyForMs = streakSince === undefined ? 0 : Math.round(now - streakSince);
    options.onProgress?.({
      step: "verify",
      message: failing.length > 0 ? `${failing.length} of ${results.length} probes unhealthy: ${describe(failing)}` : `all ${results.length} probes healthy for ${healthyForMs} of ${minHealthyMs} ms`,
      percent: percentOf(healthyForMs, minHealthyMs, failing.length === 0),
    });
    if (streakSince !== undefined && healthyForMs >= minHealthyMs) return { healthyForMs, checks };

    if (now >= deadline) {
      const why = failing.length > 0 ? describe(failing) : `healthy for only ${healthyForMs} ms when the deadline passed` + (lastFailures.length > 0 ? `; before that: ${describe(lastFailures)}` : "");
      throw new HoistError("HEALTH_CHECK_FAILED", `${who} did not stay healthy for ${minHealthyMs} ms within ${healthyDeadlineMs} ms: ${why}; check the service's log, or raise healthyDeadlineMs if it starts slowly`, {
        details: details(healthyForMs),
      });
    }
    try {
      await sleep(Math.max(0, Math.min(intervalMs, deadline - now)), undefined, { signal });
    } catch (err) {
      throwIfAborted(signal);
      throw err;
    }
  }
}

function describe(results: readonly ProbeResult[]): string {
  return results.map((result) => `${result.probe} -> ${result.detail}`).join("; ");
}

function percentOf(healthyForMs: number, minHealthyMs: number, healthy: boolean): number {
  if (minHealthyMs <= 0) return healthy ? 100 : 0;
  return Math.min(100, Math.floor((healthyForMs / minHealthyMs) * 100));
}
