import type { NodeHopStatus } from "../rollout/node-steps.ts";
import { isTerminal, type RolloutState } from "../rollout/state.ts";

/** A rollout as the metrics show it: 1-based hop and batch, node counts, failure budget left. */
export interface RolloutView {
  hop: number;
  hops: number;
  batch: number;
  batches: number;
  nodesByState: Partial<Record<NodeHopStatus, number>>;
  failureBudgetLeft: number;
}

/** What the metrics show of a rollout record (pure). A cursor past the last hop or batch shows the last. */
export function rolloutView(state: RolloutState): RolloutView {
  const hops = state.plan.hops.length;
  const hopIndex = Math.min(state.cursor.hop, Math.max(hops - 1, 0));
  const batches = state.plan.hops[hopIndex]?.batches.length ?? 0;
  const nodesByState: Partial<Record<NodeHopStatus, number>> = {};
  for (const node of Object.values(state.hops[hopIndex]?.nodes ?? {})) nodesByState[node.status] = (nodesByState[node.status] ?? 0) + 1;
  return {
    hop: hops === 0 ? 0 : hopIndex + 1,
    hops,
    batch: batches === 0 ? 0 : Math.min(state.cursor.batch, batches - 1) + 1,
    batches,
    nodesByState,
    failureBudgetLeft: Math.max(0, state.strategy.maxFailures - state.failures),
  };
}

/** Which rollouts get per-rollout series: every one not finished, and the newest of each cluster (by createdAt). */
export function rolloutsToShow(states: readonly RolloutState[]): RolloutState[] {
  const newest = new Map<string, RolloutState>();
  for (const state of states) {
    const current = newest.get(state.cluster);
    if (!current || state.createdAt > current.createdAt) newest.set(state.cluster, state);
  }
  return states.filter((state) => !isTerminal(state.phase) || newest.get(state.cluster) === state);
}
