import type { RolloutEvent } from "./events.ts";
import type { StepResult } from "./outcomes.ts";
import type { RolloutState } from "./state.ts";
import type { StepCommand } from "./step-command.ts";

/** What the RolloutRunner needs of the world: the small interface its effects go through. */
export interface RolloutEffects {
  /** Carries out one step on one node. Throws only for retryable trouble (node unreachable, busy). */
  runStep(command: StepCommand, signal: AbortSignal): Promise<StepResult>;
  preflight(rollout: RolloutState): Promise<{ ok: boolean; messages: string[] }>;
  publish(event: RolloutEvent): void;
  /** Lets go of what the effects keep open between steps (the health gate's gRPC clients). */
  close?(): void;
}
