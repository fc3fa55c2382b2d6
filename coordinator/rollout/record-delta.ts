import * as z from "zod";
import { controlRequestSchema, historyEntrySchema, nodeHopStateSchema, rolloutStateSchema, type HistoryEntry, type NodeHopState, type RolloutState } from "./state.ts";

/**
 * How a rollout is laid out in KV so that a write costs what changed, not the size of the fleet
 * (docs/architecture.md, "Rollout records"). The pure half: splitting a RolloutState into its
 * parts, putting the parts back together, and the delta between two states.
 *
 *   CLUSTER.rollout.ID              the header: phase, cursor, failures, controls ... (small)
 *   CLUSTER.rollout.ID.plan         what never changes after creation: the plan and the strategy
 *   CLUSTER.rollout.ID.n.HOP.NODE   one node's progress in one hop
 *   CLUSTER.rollout.ID.h.INDEX      one history entry (append-only)
 *   CLUSTER.rollout.ID.wal          the last commit's delta, written first by compare-and-set
 */

export const rolloutPlanPartSchema = rolloutStateSchema.pick({ schema: true, id: true, cluster: true, service: true, target: true, createdAt: true, createdBy: true, strategy: true, plan: true });

export const rolloutHeaderSchema = rolloutStateSchema.pick({ createdAt: true, updatedAt: true, phase: true, cursor: true, failures: true, failure: true, controls: true, progressAt: true, preflight: true, driver: true }).extend({
  /** Per hop: who promoted its canaries (null: nobody yet). */
  promoted: z.array(controlRequestSchema.nullable()),
  /** How many history entries exist (keys h.0 .. h.N-1). */
  historyLength: z.number().int().nonnegative(),
});

export const nodeChangeSchema = z.object({ hop: z.number().int().nonnegative(), node: z.string().min(1), state: nodeHopStateSchema });
export const historyAppendSchema = z.object({ index: z.number().int().nonnegative(), entry: historyEntrySchema });

/** One commit: the new header and what else changed. Node states and history entries are whole values, so applying a delta twice is harmless. */
export const rolloutDeltaSchema = z.object({
  seq: z.number().int().nonnegative(),
  header: rolloutHeaderSchema,
  nodes: z.array(nodeChangeSchema),
  history: z.array(historyAppendSchema),
});

export type RolloutPlanPart = z.output<typeof rolloutPlanPartSchema>;
export type RolloutHeader = z.output<typeof rolloutHeaderSchema>;
export type NodeChange = z.output<typeof nodeChangeSchema>;
export type RolloutDelta = z.output<typeof rolloutDeltaSchema>;

export interface RolloutParts {
  plan: RolloutPlanPart;
  header: RolloutHeader;
  /** Per hop, per node. */
  nodes: Map<number, Map<string, NodeHopState>>;
  history: Map<number, HistoryEntry>;
}

export function planPart(state: RolloutState): RolloutPlanPart {
  const { schema, id, cluster, service, target, createdAt, createdBy, strategy, plan } = state;
  return { schema, id, cluster, service, target, createdAt, createdBy, strategy, plan };
}

export function headerPart(state: RolloutState): RolloutHeader {
  const { createdAt, updatedAt, phase, cursor, failures, failure, controls, progressAt, preflight, driver } = state;
  return {
    createdAt,
    updatedAt,
    phase,
    cursor,
    failures,
    ...(failure ? { failure } : {}),
    controls,
    progressAt,
    ...(preflight ? { preflight } : {}),
    ...(driver ? { driver } : {}),
    promoted: state.hops.map((hop) => hop.promoted ?? null),
    historyLength: state.history.length,
  };
}

/** Every node state of a rollout, as changes (what a new rollout writes). */
export function allNodes(state: RolloutState): NodeChange[] {
  return state.hops.flatMap((hop, index) => Object.entries(hop.nodes).map(([node, nodeState]) => ({ hop: index, node, state: nodeState })));
}

/**
 * What a commit from `prev` to `next` writes: always the header (small), the node states that are
 * not the same object as before (folds copy a node only when they change it: state-edits.ts), and
 * the history entries appended. The plan never changes.
 */
export function rolloutDelta(prev: RolloutState, next: RolloutState, seq: number): RolloutDelta {
  const nodes: NodeChange[] = [];
  next.hops.forEach((hop, index) => {
    const before = prev.hops[index]?.nodes ?? {};
    for (const [node, state] of Object.entries(hop.nodes)) if (before[node] !== state) nodes.push({ hop: index, node, state });
  });
  const history = next.history.slice(prev.history.length).map((entry, offset) => ({ index: prev.history.length + offset, entry }));
  return { seq, header: headerPart(next), nodes, history };
}

/** True when a commit changes more of the header than its update time. */
export function headerChanged(prev: RolloutState, delta: RolloutDelta): boolean {
  const { updatedAt: _before, ...was } = headerPart(prev);
  const { updatedAt: _after, ...now } = delta.header;
  return JSON.stringify(was) !== JSON.stringify(now);
}

/** Lays a delta over the parts read from KV (the parts are changed in place). */
export function applyDelta(parts: RolloutParts, delta: RolloutDelta): void {
  parts.header = delta.header;
  for (const change of delta.nodes) nodesOfHop(parts, change.hop).set(change.node, change.state);
  for (const append of delta.history) parts.history.set(append.index, append.entry);
}

export function nodesOfHop(parts: RolloutParts, hop: number): Map<string, NodeHopState> {
  let nodes = parts.nodes.get(hop);
  if (!nodes) {
    nodes = new Map();
    parts.nodes.set(hop, nodes);
  }
  return nodes;
}

/**
 * The RolloutState the parts make, or the names of what is missing (a node of the plan without a
 * state, a history entry not found): a record torn by a bug or by hand, never by a crash (a crash
 * between the parts' writes is repaired by the delta in `wal`).
 */
export function assembleRollout(parts: RolloutParts): { state: RolloutState } | { missing: string[] } {
  const missing: string[] = [];
  const hops = parts.plan.plan.hops.map((plannedHop, index) => {
    const stored = parts.nodes.get(index) ?? new Map<string, NodeHopState>();
    const nodes: Record<string, NodeHopState> = {};
    for (const node of [...plannedHop.nodes, ...plannedHop.alreadyOnTarget]) {
      const state = stored.get(node);
      if (state) nodes[node] = state;
      else missing.push(`node ${node} of hop ${index}`);
    }
    const promoted = parts.header.promoted[index];
    return { ...(promoted ? { promoted } : {}), nodes };
  });
  const history: HistoryEntry[] = [];
  for (let index = 0; index < parts.header.historyLength; index++) {
    const entry = parts.history.get(index);
    if (entry) history.push(entry);
    else missing.push(`history entry ${index}`);
  }
  if (missing.length > 0) return { missing };
  const { promoted: _promoted, historyLength: _length, ...header } = parts.header;
  return { state: { ...parts.plan, ...header, hops, history } };
}
