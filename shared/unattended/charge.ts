import { budgetSpent, chargedFailures } from "./decide.ts";
import type { Control, Failure } from "./records.ts";
import type { DesiredRollout } from "./schema.ts";

/**
 * The control record after charging `failure`: recorded once per node and version, the version
 * quarantined once `quarantineAfter` distinct nodes failed it on health or migration, and the rollout
 * suspended with the reason once the budget is spent. Pure; the caller stores it by compare-and-set.
 */
export function chargeFailure(control: Control, failure: Failure, doc: DesiredRollout, nodeCount: number, by: string): Control {
  const next = structuredClone(control);
  if (!next.failures.some((known) => known.node === failure.node && known.version === failure.version && known.kind === failure.kind)) next.failures.push(failure);
  const suspects = [...new Set(next.failures.filter((known) => known.version === failure.version && known.kind === "version-suspect").map((known) => known.node))];
  if (suspects.length >= doc.quarantineAfter && !next.quarantined[failure.version]) next.quarantined[failure.version] = { at: failure.at, nodes: suspects };
  if (!next.suspended && budgetSpent(doc, next, failure.version, nodeCount)) {
    const failed = chargedFailures(next, failure.version);
    next.suspended = { reason: `failure budget spent: ${failed.length} node(s) failed ${failure.version} (${failed.map((known) => `${known.node}: ${known.kind}`).join(", ")})`, at: failure.at, by };
  }
  return next;
}
