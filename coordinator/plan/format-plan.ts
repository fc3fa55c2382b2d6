import type { Plan, PlannedHop } from "./build-plan.ts";
import { formatMs } from "../../shared/format/index.ts";
import type { Strategy } from "./strategy.ts";

function describeStrategy(strategy: Strategy): string {
  const batch = Array.isArray(strategy.batch) ? `[${strategy.batch.join(", ")}]` : String(strategy.batch);
  const canary = strategy.canary > 0 ? `${strategy.canary} (${strategy.canaryMode === "pause" ? "pause for promote" : "auto-promote"})` : "none";
  const order = Array.isArray(strategy.order) ? strategy.order.join(", ") : strategy.order;
  return [
    `batch ${batch}`,
    `canary ${canary}`,
    `min healthy ${formatMs(strategy.minHealthyMs)}`,
    `healthy deadline ${formatMs(strategy.healthyDeadlineMs)}`,
    `progress deadline ${formatMs(strategy.progressDeadlineMs)}`,
    `max failures ${strategy.maxFailures}`,
    `auto-revert ${strategy.autoRevert ? "on" : "off"}`,
    `order ${order}`,
  ].join(", ");
}

function formatHop(hop: PlannedHop, total: number, strategy: Strategy): string[] {
  const kind = [hop.downgrade ? "downgrade" : undefined, hop.minor ? "minor" : undefined].filter(Boolean).join(", ");
  const lines = [`Hop ${hop.index + 1}/${total}: ${hop.from} -> ${hop.to}${kind ? ` (${kind})` : ""}`];
  if (hop.kind === "patch") lines.push("  kind: patch (`hoist upgrade` on a node replaces only the changed files and reloads; a rollout runs it as a full hop)");
  if (hop.via !== undefined) lines.push(`  via: ${hop.via.join(", ")} (not fetched: ${hop.to} ships their migrations, run from its package in order)`);
  if (hop.notes !== undefined)
    lines.push(
      ...hop.notes
        .trim()
        .split("\n")
        .map((line, index) => `${index === 0 ? "  notes: " : "         "}${line}`),
    );
  if (hop.notesUrl !== undefined) lines.push(`  release notes: ${hop.notesUrl}`);
  if (hop.requireConfirm) lines.push(`  confirm: read the notes of ${hop.to}; \`rollout start\` needs --confirm ${hop.to}`);
  lines.push(hop.mode === "rolling" ? `  strategy: rolling (${hop.reason})` : `  strategy: full-stop (${hop.reason})`);
  if (hop.migrations.length > 0) {
    const migrations = hop.migrations.map(
      (migration) =>
        `${migration.name} (${migration.scope === "cluster-once" ? "cluster-once: the first node runs it, the others skip" : "every node"}${migration.when === "before-stop" ? "; before stop, against the running old release" : ""}${migration.permanent ? "; permanent: rollback works until `hoist finalize`" : ""})`,
    );
    lines.push(`  migrations: ${migrations.join("; ")}`);
  }
  if (hop.alreadyOnTarget.length > 0) lines.push(`  skip: ${hop.alreadyOnTarget.join(", ")} (already on ${hop.to})`);
  if (hop.nodes.length === 0) {
    lines.push("  nothing to upgrade in this hop");
  } else if (hop.mode === "rolling") {
    hop.batches.forEach((batch, index) => {
      const canary = index < hop.canaryBatches ? " (canary)" : "";
      lines.push(`  batch ${index + 1}${canary}: ${batch.join(", ")}`);
      if (index === hop.canaryBatches - 1 && index < hop.batches.length - 1) {
        lines.push(strategy.canaryMode === "pause" ? "  -- wait for `hoist rollout promote` --" : "  -- promote automatically once the canaries are healthy --");
      }
    });
    lines.push("  per batch: stage on every node of the batch, then per node drain -> upgrade -> rejoin -> health gate");
  } else {
    const [leader, rest] = [hop.batches[0] ?? [], hop.batches[1] ?? []];
    const stopped = [...hop.nodes, ...hop.alreadyOnTarget];
    lines.push(`  stage on ${hop.nodes.join(", ")}; stop ${stopped.join(", ")}`);
    lines.push(`  upgrade ${leader.join(", ")} first${hop.migrations.some((m) => m.scope === "cluster-once") ? " (runs the cluster-once migrations)" : ""}`);
    if (rest.length > 0) lines.push(`  then upgrade ${rest.join(", ")}`);
    lines.push(`  start ${stopped.join(", ")}; verify each`);
  }
  lines.push(`  gate: ${hop.gate}`);
  return lines;
}

/** The plan as a readable text block for the terminal (no colours). */
export function formatPlan(plan: Plan): string {
  const lines = [`Plan: ${plan.service} on cluster ${plan.cluster} to ${plan.target}`];
  lines.push(`Nodes (${plan.nodes.length}):`);
  for (const node of plan.nodes) {
    const expected = node.version === node.expectedVersion ? "" : ` (plan expects ${node.expectedVersion})`;
    lines.push(`  ${node.node}: ${node.version ?? "unknown"}${expected}`);
  }
  lines.push(`Strategy: ${describeStrategy(plan.strategy)}`);
  for (const note of plan.notes) lines.push(`Note: ${note}`);
  for (const hop of plan.hops) lines.push(...formatHop(hop, plan.hops.length, plan.strategy));
  if (plan.preflight.ok) {
    lines.push(`Preflight: ok (${plan.nodes.length} node${plan.nodes.length === 1 ? "" : "s"} answered, healthy, on the expected version, with disk room)`);
  } else {
    lines.push("Preflight: FAILED");
    for (const message of plan.preflight.messages) lines.push(`  ${message}`);
  }
  return lines.join("\n");
}
