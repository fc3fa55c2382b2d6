import type { RolloutPhase, RolloutState } from "./state.ts";
import type { NodeStep } from "./node-steps.ts";
import type { StepOutcome } from "./outcomes.ts";

/** An event on the HOIST_EVENTS stream: every transition of a rollout, every step result. */
export interface RolloutEvent {
  type: "transition" | "step";
  rollout: string;
  cluster: string;
  /** The service being upgraded and the rollout's target (read by announcements). */
  service?: string;
  to?: string;
  phase: RolloutPhase;
  message: string;
  at: string;
  node?: string;
  key?: string;
  step?: string;
  outcome?: StepOutcome;
}

function about(state: RolloutState): { service?: string; to?: string } {
  return { service: state.service, to: state.target };
}

/** A transition of the rollout, in the phase it is in afterwards. */
export function transitionEvent(state: RolloutState, message: string, at: number): RolloutEvent {
  return { type: "transition", rollout: state.id, cluster: state.cluster, ...about(state), phase: state.phase, message, at: new Date(at).toISOString() };
}

/** How one step on one node ended, as folded into the state. */
export function stepEvent(state: RolloutState, step: { node: string; key: string; step: NodeStep; outcome: StepOutcome; error?: { code: string; message: string } }, at: number): RolloutEvent {
  return {
    type: "step",
    rollout: state.id,
    cluster: state.cluster,
    ...about(state),
    // Step events have always said "running", whatever the phase (a step finishing while paused or reverting).
    phase: "running",
    node: step.node,
    key: step.key,
    step: step.step,
    outcome: step.outcome,
    message: `${step.node}: ${step.step} ${step.outcome}${step.error ? ` (${step.error.code}: ${step.error.message})` : ""}`,
    at: new Date(at).toISOString(),
  };
}
