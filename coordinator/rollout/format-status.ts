import type { RolloutState } from "./state.ts";

function time(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}

/** A readable status block of one rollout: phase, every hop with each node's standing, failure, recent history. */
export function formatRolloutStatus(rollout: RolloutState): string {
  const lines = [
    `rollout ${rollout.id}  cluster ${rollout.cluster}  service ${rollout.service}  -> ${rollout.target}`,
    `  phase ${rollout.phase}  (started ${time(rollout.createdAt)} by ${rollout.createdBy}, updated ${time(rollout.updatedAt)})`,
  ];
  if (rollout.failure) lines.push(`  failure: ${rollout.failure.code}: ${rollout.failure.message}`);
  if (rollout.preflight && !rollout.preflight.ok) lines.push(...rollout.preflight.messages.map((message) => `  preflight: ${message}`));
  rollout.plan.hops.forEach((hop, index) => {
    const marker = index === rollout.cursor.hop && !["succeeded", "failed", "aborted", "reverted"].includes(rollout.phase) ? ">" : " ";
    lines.push(` ${marker} hop ${index + 1}: ${hop.from} -> ${hop.to}  ${hop.mode}${hop.mode === "full-stop" ? ` (${hop.reason})` : ""}`);
    for (const [node, state] of Object.entries(rollout.hops[index]?.nodes ?? {})) {
      const inFlight = state.inFlight ? `  running ${state.inFlight.step}` : "";
      const error = state.lastError ? `  last error: ${state.lastError.message}` : "";
      lines.push(`      ${node.padEnd(12)} ${state.status.padEnd(12)}${state.track === "forward" ? "" : ` (${state.track})`}${inFlight}${error}`);
    }
  });
  const recent = rollout.history.slice(-5);
  if (recent.length > 0) {
    lines.push("  recent:");
    for (const entry of recent) lines.push(`    ${time(entry.at)}  ${entry.event}${entry.node ? ` ${entry.node}` : ""}${entry.message ? `: ${entry.message}` : ""}`);
  }
  return lines.join("\n");
}
