import type { ScenarioResult } from "./scenario.ts";

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function periods(ms: number, count: number): string {
  return count === 0 ? "never" : `${seconds(ms)} in ${count} period${count === 1 ? "" : "s"}`;
}

/** The demo's closing summary: what the users saw, what each node went through, the fleet after. */
export function formatSummary(result: ScenarioResult): string {
  const { load, rollout } = result;
  const byNode = Object.entries(load.byServer)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, count]) => `${node} ${count}`)
    .join(", ");
  const lines = [
    "summary",
    `  rollout     ${rollout.id}: ${rollout.phase} (exit code ${result.exitCode})${rollout.failure ? `\n              ${rollout.failure.message}` : ""}`,
    `  hops        ${result.hops.map((hop) => `${hop.from} -> ${hop.to} (${hop.mode})`).join(", ")}`,
    `  total time  ${seconds(result.rolloutMs)} (hoist rollout start, plan to last health gate)`,
    `  requests    ${load.sent} sent through HAProxy during ${seconds(load.stoppedAt - load.startedAt)}, ${load.failed} failed${byNode ? `; answered by ${byNode}` : ""}`,
  ];
  for (const failure of load.failures) lines.push(`              failed: ${new Date(failure.at).toISOString().slice(11, 23)} ${failure.method} ${failure.path}: ${failure.what}`);
  const counters = Object.values(result.haproxyCounters);
  const sum = (key: keyof (typeof counters)[number]) => counters.reduce((total, entry) => total + entry[key], 0);
  lines.push(`  haproxy     ${sum("connectErrors")} connection errors, ${sum("responseErrors")} response errors, ${sum("retries")} retries, ${sum("redispatches")} redispatches (no request reached a stopped node when all are 0)`);
  lines.push("  per node    out of HAProxy rotation     kv not answering /healthz   version now");
  for (const node of result.downtime) {
    lines.push(`    ${node.node.padEnd(9)} ${periods(node.outOfRotationMs, node.outOfRotationPeriods).padEnd(27)} ${periods(node.notServingMs, node.notServingPeriods).padEnd(27)} ${result.versions[node.node] ?? "?"}`);
  }
  lines.push("              (sampled every 100 ms; a node is out of rotation from `state drain` until HAProxy has it UP again)");
  lines.push("", "fleet before:", result.inventoryBefore, "", "fleet after:", result.inventoryAfter);
  if (result.kept) lines.push("", `kept ${result.workDir} (configs, agent state, kv logs, haproxy.cfg)`);
  return lines.join("\n");
}
