import { budgetSpent, chargedFailures, decideUnattended, effectivePlan, waveSeed, type ResolvedDesired, type WaitReason } from "./decide.ts";
import type { RolloutSnapshot } from "./store.ts";
import { assignWaves, slotCount } from "./waves.ts";
import { formatDuration } from "./duration.ts";

export interface NodeStatus {
  node: string;
  wave?: string;
  version?: string;
  state: string;
  /** What the decider says now for this node (the same call the agent makes). */
  decision: "act" | WaitReason;
  /** What the agent last reported (it may be mid-upgrade, refused, backing off). */
  reported: string;
  nextEligibleAt?: number;
  seenAgoMs: number;
}

export interface RolloutStatus {
  cluster: string;
  service: string;
  revision: number;
  signed: boolean;
  target?: string;
  kind: "upgrade" | "rollback";
  suspended?: string;
  quarantined: string[];
  budget: { failed: number; maxFailed: number; maxFailedPercent?: number; spent: boolean };
  waves: { name: string; nodes: number; slots: number; counts: Record<string, number>; holders: { node: string; slot: number; step: string; ageMs: number; heartbeatAgoMs: number; charged?: string }[] }[];
  nodes: NodeStatus[];
  /**
   * Nodes the cluster inventory knows with the service installed but with no unattended report: an
   * agent without `unattended.enabled`, or one that has not reported since it came back. They are in
   * no wave's count (like offline nodes) until they report; then they join their wave (late arrivers).
   */
  notReporting: { node: string; version?: string; seenAgoMs: number }[];
}

/** A node the cluster inventory knows (`hoist_inventory`): what status compares the reports with. */
export interface KnownNode {
  node: string;
  version?: string;
  seenAt: number;
}

/**
 * The operator's view of one rollout, made from the same records and the same `decideUnattended`
 * the agents use, so it shows what they will do: per wave the counts by state and the slot holders
 * (age, step, charged), the failure budget left, per node its state, reason and next eligible time,
 * and the `known` nodes (from the inventory) that have no report.
 */
export function rolloutStatus(desired: ResolvedDesired, snapshot: RolloutSnapshot, now: number, known: readonly KnownNode[] = []): RolloutStatus {
  const { doc } = desired;
  const control = snapshot.control.value;
  const plan = effectivePlan(desired, control);
  const assignment = assignWaves(doc.waves, snapshot.nodes, waveSeed(desired));
  const fleet = { nodes: snapshot.nodes, slots: snapshot.slots, control };
  const nodes: NodeStatus[] = snapshot.nodes
    .map((report) => {
      const decision = decideUnattended(desired, { node: report.node, labels: report.labels, version: report.version, backoffUntil: report.backoffUntil }, fleet, now);
      const wave = assignment.get(report.node);
      const nextEligibleAt = decision.action === "wait" ? decision.nextEligibleAt : undefined;
      return {
        node: report.node,
        ...(wave ? { wave } : {}),
        ...(report.version ? { version: report.version } : {}),
        state: report.state,
        decision: decision.action === "act" ? ("act" as const) : decision.reason,
        reported: report.reason,
        ...(nextEligibleAt ? { nextEligibleAt } : {}),
        seenAgoMs: now - report.seenAt,
      };
    })
    .sort((a, b) => (a.node < b.node ? -1 : 1));
  const failed = chargedFailures(control, plan.target).length;
  return {
    cluster: doc.cluster,
    service: doc.service,
    revision: snapshot.stored?.revision ?? 0,
    signed: snapshot.stored?.value.signature !== undefined,
    ...(plan.target ? { target: plan.target } : {}),
    kind: plan.kind,
    ...(control.suspended ? { suspended: control.suspended.reason } : doc.mode === "suspended" ? { suspended: "mode: suspended in the document" } : {}),
    quarantined: Object.keys(control.quarantined),
    budget: {
      failed,
      maxFailed: doc.failureBudget.maxFailed,
      ...(doc.failureBudget.maxFailedPercent ? { maxFailedPercent: doc.failureBudget.maxFailedPercent } : {}),
      spent: budgetSpent(doc, control, plan.target, assignment.size),
    },
    waves: plan.waves.map((wave) => {
      const members = nodes.filter((node) => node.wave === wave.name);
      const counts: Record<string, number> = {};
      for (const member of members) counts[member.state] = (counts[member.state] ?? 0) + 1;
      return {
        name: wave.name,
        nodes: members.length,
        slots: slotCount(wave.maxInFlight, members.length),
        counts,
        holders: snapshot.slots
          .filter((slot) => slot.wave === wave.name)
          .map((slot) => ({ node: slot.node, slot: slot.index, step: slot.step, ageMs: now - slot.since, heartbeatAgoMs: now - slot.heartbeatAt, ...(slot.charged ? { charged: slot.charged.reason } : {}) })),
      };
    }),
    nodes,
    notReporting: known
      .filter((entry) => !snapshot.nodes.some((report) => report.node === entry.node))
      .map((entry) => ({ node: entry.node, ...(entry.version ? { version: entry.version } : {}), seenAgoMs: now - entry.seenAt }))
      .sort((a, b) => (a.node < b.node ? -1 : 1)),
  };
}

/** The status as text, one block per wave and one line per node. */
export function formatRolloutStatus(status: RolloutStatus, now: number): string {
  const lines = [
    `${status.cluster}/${status.service}: ${status.kind} to ${status.target ?? "(no target)"}  revision ${status.revision}${status.signed ? " signed" : ""}${status.suspended ? `  SUSPENDED: ${status.suspended}` : ""}`,
    `failure budget: ${status.budget.failed} of ${status.budget.maxFailed}${status.budget.maxFailedPercent ? ` (or ${status.budget.maxFailedPercent}%)` : ""} used${status.budget.spent ? " - SPENT" : ""}${status.quarantined.length ? `; quarantined: ${status.quarantined.join(", ")}` : ""}`,
  ];
  for (const wave of status.waves) {
    const counts = Object.entries(wave.counts).map(([state, count]) => `${state} ${count}`);
    lines.push(`wave ${wave.name}: ${wave.nodes} node(s), ${wave.slots} slot(s)${counts.length ? `; ${counts.join(", ")}` : ""}`);
    for (const holder of wave.holders)
      lines.push(`  slot ${holder.slot}: ${holder.node} at ${holder.step} for ${formatDuration(holder.ageMs)} (heartbeat ${formatDuration(holder.heartbeatAgoMs)} ago)${holder.charged ? ` CHARGED: ${holder.charged}` : ""}`);
  }
  for (const node of status.nodes) {
    const next = node.nextEligibleAt ? ` next ${new Date(node.nextEligibleAt).toISOString()} (in ${formatDuration(Math.max(0, node.nextEligibleAt - now))})` : "";
    lines.push(
      `  ${node.node.padEnd(12)} ${(node.wave ?? "-").padEnd(10)} ${(node.version ?? "-").padEnd(10)} ${node.state.padEnd(9)} ${node.decision}${node.reported && node.reported !== node.decision ? ` (reported ${node.reported})` : ""}${next}`,
    );
  }
  if (status.notReporting.length > 0) {
    lines.push(`not reporting (in the inventory, no unattended report; in no wave until they report):`);
    for (const node of status.notReporting) lines.push(`  ${node.node.padEnd(12)} ${(node.version ?? "-").padEnd(10)} inventory seen ${formatDuration(node.seenAgoMs)} ago`);
  }
  return lines.join("\n");
}
