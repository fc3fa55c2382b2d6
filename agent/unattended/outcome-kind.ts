import type { UpgradeOutcome } from "../../shared/types/index.ts";

/**
 * What an unattended upgrade's end means for the rollout:
 * - ok: the node runs the target (committed, or already there);
 * - environment: nothing changed on the node (aborted before the stop, or refused): back off, retry, not charged;
 * - version-suspect: the version failed health or migration after the switch and was rolled back: charged;
 * - stuck: the rollback itself failed: charged, and the slot stays taken until an operator frees it.
 */
export type OutcomeKind = "ok" | "environment" | "version-suspect" | "stuck";

export function classifyOutcome(outcome: UpgradeOutcome): OutcomeKind {
  switch (outcome.result) {
    case "committed":
    case "noop":
      return "ok";
    case "aborted":
      return "environment";
    case "rolled-back":
      return "version-suspect";
    case "failed":
      return "stuck";
  }
}

/**
 * A thrown error means the engine refused before changing anything (busy, no path, preflight, a
 * fetch it could not make): environment, whatever the code.
 */
export function classifyError(): OutcomeKind {
  return "environment";
}
