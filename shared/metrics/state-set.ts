import type { Gauge } from "prom-client";

/**
 * Sets a state set (the Prometheus way to show an enum): one series per possible state under
 * `stateLabel`, 1 for `current` and 0 for the others, so that `== 1` selects the state and a change
 * shows as one series going 0 and another 1.
 */
export function setStateSet<L extends string>(gauge: Gauge<L>, labels: Partial<Record<L, string>>, stateLabel: L, states: readonly string[], current: string): void {
  for (const state of states) gauge.set({ ...labels, [stateLabel]: state } as Partial<Record<L, string>>, state === current ? 1 : 0);
}

/** Buckets of step durations: a config rewrite takes ms, a stage of a large artifact or a migration minutes. */
export const STEP_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Buckets of snapshot durations: from a small data dir to tens of GB. */
export const SNAPSHOT_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
