import { formatBytes } from "../../shared/format/index.ts";
import type { FleetRow } from "./drift.ts";

/** The fleet inventory as an aligned table; drifting rows are marked with `!` and explained below. */
export function formatFleet(rows: FleetRow[], now: number): string {
  if (rows.length === 0) return "no agents have published an inventory yet";
  const header = ["", "CLUSTER", "NODE", "SERVICE", "VERSION", "SHA256", "HEALTH", "LAST SEEN", "AGENT", "OS", "DISK FREE"];
  const table = rows.map((row) => [
    row.drift.length > 0 ? "!" : " ",
    row.cluster,
    row.node,
    row.service,
    row.version ?? "-",
    row.sha256 ? row.sha256.slice(0, 12) : "-",
    row.health,
    `${Math.max(0, Math.round((now - row.lastSeen) / 1000))}s ago`,
    row.agentVersion,
    row.os || "-",
    row.diskFreeBytes === undefined ? "-" : formatBytes(row.diskFreeBytes),
  ]);
  const widths = header.map((_, column) => Math.max(header[column]!.length, ...table.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd();
  const drift = rows.filter((row) => row.drift.length > 0).map((row) => `! ${row.cluster}/${row.node} ${row.service}: ${row.drift.join("; ")}`);
  return [line(header), ...table.map(line), ...(drift.length > 0 ? ["", ...drift] : [])].join("\n");
}
