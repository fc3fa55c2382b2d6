import type { NodeInventory, ServiceInventory, UpgradeOutcome } from "../node-agent-api.ts";

function formatOutcome(outcome: UpgradeOutcome | undefined): string {
  if (!outcome) return "none";
  const path = `${outcome.from ?? "(fresh)"} -> ${outcome.to}`;
  const error = outcome.error ? ` (${outcome.error.code}: ${outcome.error.message})` : "";
  return `${outcome.result} ${path} at ${outcome.finishedAt}${error}`;
}

/** Human-readable status of one service. */
export function formatServiceStatus(service: ServiceInventory): string {
  const lines = [
    `service ${service.name}`,
    `  active release   ${service.activeVersion ?? "none"}`,
    `  artifact sha256  ${service.activeSha256 ?? "unknown"}`,
    `  health           ${service.health} (${service.activity})`,
    `  releases         ${service.releases.map((release) => (release.active ? `${release.version}*` : release.version)).join(", ") || "none"}`,
    `  snapshots        ${service.snapshots.length === 0 ? "none" : ""}`,
  ];
  for (const snapshot of service.snapshots) {
    lines.push(`    ${snapshot.id}  ${snapshot.version ?? "-"}  ${snapshot.files} files  ${snapshot.bytes} bytes  ${snapshot.label ?? ""}`.trimEnd());
  }
  lines.push(`  last upgrade     ${formatOutcome(service.lastUpgrade)}`);
  return lines.join("\n");
}

/** Human-readable status of the node: a header line, then each service (or only `only`). */
export function formatNodeStatus(inventory: Pick<NodeInventory, "node" | "cluster" | "agentVersion" | "services">, only?: string): string {
  const header = `node ${inventory.node} (cluster ${inventory.cluster}, agent ${inventory.agentVersion})`;
  const services = inventory.services.filter((service) => only === undefined || service.name === only);
  return [header, ...services.map(formatServiceStatus)].join("\n");
}

export function formatOutcomeLine(outcome: UpgradeOutcome): string {
  return formatOutcome(outcome);
}
