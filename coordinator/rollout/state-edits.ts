import type { HistoryEntry, RolloutPhase, RolloutState } from "./state.ts";
import { currentHop, isComplete } from "./work.ts";

/** The edits the folds make to a copy of the rollout state: history, phase, failure, cursor. */

/** The copy a fold edits; the state it was given is never changed. */
export function clone(rollout: RolloutState): RolloutState {
  return structuredClone(rollout);
}

export function record(rollout: RolloutState, entry: HistoryEntry): void {
  rollout.history.push(entry);
}

export function setPhase(rollout: RolloutState, phase: RolloutPhase, at: number, message: string): void {
  if (rollout.phase === phase) return;
  record(rollout, { at, event: "phase", from: rollout.phase, to: phase, message });
  rollout.phase = phase;
}

export function setFailure(rollout: RolloutState, failure: NonNullable<RolloutState["failure"]>): void {
  if (rollout.failure) return;
  rollout.failure = failure;
  record(rollout, { at: failure.at, event: "failure", message: failure.message, ...(failure.node ? { node: failure.node } : {}), ...(failure.hop !== undefined ? { hop: failure.hop } : {}) });
}

/** The cursor follows the state: the current hop, and its first batch not done (the revert batch while reverting). */
export function updateCursor(rollout: RolloutState): void {
  const hop = currentHop(rollout);
  if (hop >= rollout.hops.length) {
    rollout.cursor = { hop: Math.max(0, rollout.hops.length - 1), batch: Math.max(0, (rollout.plan.hops.at(-1)?.batches.length ?? 1) - 1) };
    return;
  }
  const plan = rollout.plan.hops[hop]!;
  const nodes = rollout.hops[hop]!.nodes;
  const reverting = Object.values(nodes).some((state) => state.track === "revert");
  let batch: number;
  if (reverting) {
    const inRevert = plan.batches.findIndex((members) => members.some((node) => nodes[node]!.track === "revert" && (nodes[node]!.todo.length > 0 || nodes[node]!.inFlight)));
    batch = inRevert === -1 ? rollout.cursor.batch : inRevert;
  } else {
    batch = plan.batches.findIndex((members) => members.some((node) => !isComplete(nodes[node]!)));
  }
  rollout.cursor = { hop, batch: Math.max(0, batch) };
}
