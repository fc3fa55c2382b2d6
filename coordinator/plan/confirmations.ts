import { HoistError } from "../../shared/errors/index.ts";
import type { Plan, PlannedHop } from "./build-plan.ts";

/** The hops whose release needs `--confirm` and was not named in `confirmed` (pure). */
export function unconfirmedHops(plan: Pick<Plan, "hops">, confirmed: readonly string[]): PlannedHop[] {
  return plan.hops.filter((hop) => hop.requireConfirm && !confirmed.includes(hop.to));
}

/**
 * Refuses a plan that passes through a release requiring confirmation unless every such version is
 * in `confirmed` (from `--confirm 2.0.0,3.0.0`).
 * @throws HoistError CONFIRMATION_REQUIRED naming each version, its notes URL, and the flag to pass.
 */
export function checkConfirmations(plan: Pick<Plan, "hops">, confirmed: readonly string[]): void {
  const missing = unconfirmedHops(plan, confirmed);
  if (missing.length === 0) return;
  const versions = missing.map((hop) => hop.to);
  const where = missing.map((hop) => `${hop.to}${hop.notesUrl ? ` (${hop.notesUrl})` : ""}`).join(", ");
  throw new HoistError(
    "CONFIRMATION_REQUIRED",
    `the rollout goes through ${where}, which must be confirmed: read the release notes shown by \`hoist plan\`, then run again with --confirm ${versions.join(",")}; nothing was started`,
    {
      details: { versions },
    },
  );
}
