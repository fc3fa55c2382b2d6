import type { HistoryEntry, NodeHopState, RolloutPhase, RolloutState } from "./state.ts";
import { currentHop, isComplete } from "./work.ts";

/** The edits the folds make to a copy of the rollout state: history, phase, failure, cursor. */

/** Node states a fold may edit in place: the ones it copied itself (editNode), per copy of the rollout. */
const ownNodes = new WeakMap<RolloutState, WeakSet<NodeHopState>>();

/**
 * The copy a fold edits; the state it was given is never changed. Copy-on-write: the plan (never
 * edited) and every node state are shared with the original until a fold takes a node with
 * editNode, so a fold costs what it changes plus one pointer per node, not a deep copy of the
 * fleet; and a node state that is the same object before and after a fold did not change, which is
 * what the store's delta (record-delta.ts) relies on.
 */
export function clone(rollout: RolloutState): RolloutState {
  const next: RolloutState = {
    ...rollout,
    cursor: { ...rollout.cursor },
    controls: { ...rollout.controls },
    hops: rollout.hops.map((hop) => ({ ...hop, nodes: { ...hop.nodes } })),
    history: [...rollout.history],
  };
  ownNodes.set(next, new WeakSet());
  return next;
}

/** A node's state in a copy made by clone, ready to edit: copied on first use, so the original keeps its own. */
export function editNode(rollout: RolloutState, hop: number, node: string): NodeHopState {
  const own = ownNodes.get(rollout);
  if (!own) throw new Error("editNode needs a copy made by clone()");
  const nodes = rollout.hops[hop]?.nodes;
  const state = nodes?.[node];
  if (!nodes || !state) throw new Error(`rollout ${rollout.id} has no node ${node} in hop ${hop}`);
  if (own.has(state)) return state;
  const copy: NodeHopState = { ...state, todo: [...state.todo] };
  nodes[node] = copy;
  own.add(copy);
  return copy;
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
