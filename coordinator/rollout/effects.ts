import type { RolloutState } from "./state.ts";
import type { StepCommand, StepOutcome } from "./decide.ts";

/** How one step ended, as reported back into the rollout state. */
export interface StepResult {
  outcome: StepOutcome;
  error?: { code: string; message: string };
}

/** An event on the HOIST_EVENTS stream: every transition of a rollout, every step result. */
export interface RolloutEvent {
  type: "transition" | "step";
  rollout: string;
  cluster: string;
  phase: RolloutState["phase"];
  message: string;
  at: string;
  node?: string;
  key?: string;
  step?: string;
  outcome?: StepOutcome;
}

/** What the RolloutRunner needs of the world: the small interface its effects go through. */
export interface RolloutEffects {
  /** Carries out one step on one node. Throws only for retryable trouble (node unreachable, busy). */
  runStep(command: StepCommand, signal: AbortSignal): Promise<StepResult>;
  preflight(rollout: RolloutState): Promise<{ ok: boolean; messages: string[] }>;
  publish(event: RolloutEvent): void;
}
