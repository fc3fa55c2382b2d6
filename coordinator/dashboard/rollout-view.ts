import type { ControlName } from "../rollout/fold.ts";
import { isTerminal, type RolloutState } from "../rollout/state.ts";

/** One node of a hop as the page draws it. */
export interface NodeView {
  node: string;
  status: string;
  track: string;
  /** The step in flight, if any. */
  running?: string;
  /** The step that comes next when nothing is in flight. */
  next?: string;
  attempt: number;
  error?: string;
}

export interface HopView {
  index: number;
  from: string;
  to: string;
  mode: string;
  reason: string;
  canaryBatches: number;
  /** Each batch's nodes, in the plan's order. */
  batches: NodeView[][];
  /** Nodes in no batch: already on the hop's target when it was planned. */
  others: NodeView[];
  /** True for the hop the rollout works on now. */
  current: boolean;
  currentBatch?: number;
  promoted: boolean;
}

/** A rollout as the page draws it: what the operator needs, without the record's internals. */
export interface RolloutView {
  id: string;
  cluster: string;
  service: string;
  target: string;
  phase: string;
  terminal: boolean;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  failures: number;
  maxFailures: number;
  failure?: string;
  preflight?: string[];
  paused: boolean;
  /** The controls that make sense in this phase (the buttons shown enabled). */
  controls: ControlName[];
  hops: HopView[];
  history: { at: number; text: string }[];
}

/** Which controls an operator can use in a rollout's phase (pure). */
export function availableControls(rollout: Pick<RolloutState, "phase" | "controls">): ControlName[] {
  if (isTerminal(rollout.phase)) return [];
  const paused = rollout.phase === "paused" || rollout.controls.pause !== undefined;
  return [paused ? "resume" : "pause", "abort", ...(rollout.phase === "waiting-promote" ? (["promote"] as const) : [])];
}

/** The page's view of one rollout record (pure). */
export function toRolloutView(rollout: RolloutState): RolloutView {
  const terminal = isTerminal(rollout.phase);
  const hops = rollout.plan.hops.map((hop, index): HopView => {
    const progress = rollout.hops[index];
    const nodes = progress?.nodes ?? {};
    const view = (node: string): NodeView => {
      const state = nodes[node];
      if (!state) return { node, status: "pending", track: "forward", attempt: 1 };
      return {
        node,
        status: state.status,
        track: state.track,
        ...(state.inFlight ? { running: state.inFlight.step } : state.todo[0] ? { next: state.todo[0] } : {}),
        attempt: state.attempt,
        ...(state.lastError ? { error: `${state.lastError.step}: ${state.lastError.code}: ${state.lastError.message}` } : {}),
      };
    };
    const planned = new Set(hop.batches.flat());
    const batches = hop.batches.map((batch) => batch.map(view));
    const others = Object.keys(nodes)
      .filter((node) => !planned.has(node))
      .map(view);
    const current = !terminal && index === rollout.cursor.hop;
    return {
      index,
      from: hop.from,
      to: hop.to,
      mode: hop.mode,
      reason: hop.reason,
      canaryBatches: hop.canaryBatches,
      batches,
      others,
      current,
      ...(current ? { currentBatch: rollout.cursor.batch } : {}),
      promoted: progress?.promoted !== undefined,
    };
  });
  return {
    id: rollout.id,
    cluster: rollout.cluster,
    service: rollout.service,
    target: rollout.target,
    phase: rollout.phase,
    terminal,
    createdAt: rollout.createdAt,
    createdBy: rollout.createdBy,
    updatedAt: rollout.updatedAt,
    failures: rollout.failures,
    maxFailures: rollout.strategy.maxFailures,
    ...(rollout.failure ? { failure: `${rollout.failure.code}: ${rollout.failure.message}` } : {}),
    ...(rollout.preflight && !rollout.preflight.ok ? { preflight: rollout.preflight.messages } : {}),
    paused: rollout.phase === "paused" || rollout.controls.pause !== undefined,
    controls: availableControls(rollout),
    hops,
    history: rollout.history.slice(-8).map((entry) => ({
      at: entry.at,
      text: [entry.event, entry.from && entry.to ? `${entry.from} -> ${entry.to}` : entry.to, entry.node, entry.by ? `by ${entry.by}` : undefined, entry.message].filter(Boolean).join("  "),
    })),
  };
}
