import type { UpgradeOutcome } from "../../shared/types/index.ts";

/**
 * How a step ended, as the fold reads it:
 * - ok: done (upgrade `committed` or `noop`, rollback `rolled-back` or `noop`, any other step's success);
 * - rolled-back: the step failed and the agent put the node back as it was before the step
 *   (upgrade `rolled-back` or `aborted`);
 * - failed: the step failed; for upgrade and rollback this means the agent could not restore the node;
 * - timed-out: no answer in time; the node's state is unknown, so the worst is assumed.
 *
 * What each outcome does to the node and the rollout (the failure policy) is in fold-step.ts.
 */
export type StepOutcome = "ok" | "rolled-back" | "failed" | "timed-out";

/** How one step ended, as reported back into the rollout state. */
export interface StepResult {
  outcome: StepOutcome;
  error?: { code: string; message: string };
}

/** The meaning of an agent's upgrade outcome for the rollout. */
export function upgradeStepResult(outcome: UpgradeOutcome): StepResult {
  const error = outcome.error ? { error: outcome.error } : {};
  switch (outcome.result) {
    case "committed":
    case "noop":
      return { outcome: "ok" };
    case "rolled-back":
    case "aborted":
      return { outcome: "rolled-back", ...error };
    default:
      return { outcome: "failed", ...error };
  }
}

/** The meaning of an agent's rollback outcome: back on `from` or nothing to undo is done; anything else left the node broken. */
export function rollbackStepResult(outcome: UpgradeOutcome): StepResult {
  return outcome.result === "rolled-back" || outcome.result === "noop" ? { outcome: "ok" } : { outcome: "failed", ...(outcome.error ? { error: outcome.error } : {}) };
}
