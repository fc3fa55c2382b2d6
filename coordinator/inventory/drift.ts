import type { ObservedInventory } from "../../shared/inventory/index.ts";

export interface FleetRow {
  node: string;
  cluster: string;
  service: string;
  version?: string;
  sha256?: string;
  health: string;
  lastSeen: number;
  agentVersion: string;
  os: string;
  diskFreeBytes?: number;
  /** Why this row is flagged: not on the desired/majority version, not seen lately. */
  drift: string[];
}

export interface DriftInput {
  inventories: Readonly<Record<string, ObservedInventory>>;
  /** Desired version per `cluster/service`, when an operator set one (KV hoist_desired). */
  desired?: Readonly<Record<string, string>>;
  now: number;
  staleAfterMs: number;
}

/**
 * Flattens the fleet into one row per node and service and flags drift (pure): a node not on the
 * cluster's desired version (or, without one, its majority version), or one not seen for staleAfterMs.
 */
export function findDrift(input: DriftInput): FleetRow[] {
  const rows: FleetRow[] = [];
  // The node's own name, not the map's key: readInventories keys by CLUSTER.NODE across clusters.
  for (const observed of Object.values(input.inventories)) {
    const { inventory } = observed;
    for (const service of inventory.services) {
      rows.push({
        node: inventory.node,
        cluster: inventory.cluster,
        service: service.name,
        ...(service.activeVersion === undefined ? {} : { version: service.activeVersion }),
        ...(service.activeSha256 === undefined ? {} : { sha256: service.activeSha256 }),
        health: service.health,
        lastSeen: observed.seenAt,
        agentVersion: inventory.agentVersion,
        os: [inventory.host.os, inventory.host.kernel].filter(Boolean).join(" "),
        ...(inventory.host.disks.length === 0 ? {} : { diskFreeBytes: Math.min(...inventory.host.disks.map((disk) => disk.freeBytes)) }),
        drift: [],
      });
    }
  }
  const groups = new Map<string, FleetRow[]>();
  for (const row of rows) {
    const key = `${row.cluster}/${row.service}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  for (const [key, group] of groups) {
    const counts = new Map<string, number>();
    for (const row of group) if (row.version) counts.set(row.version, (counts.get(row.version) ?? 0) + 1);
    const majority = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
    const desired = input.desired?.[key];
    const expected = desired ?? majority;
    for (const row of group) {
      if (expected !== undefined && row.version !== expected) row.drift.push(`${desired ? "desired" : "majority"} version is ${expected}`);
      if (input.now - row.lastSeen > input.staleAfterMs) row.drift.push(`not seen for ${Math.round((input.now - row.lastSeen) / 1000)} s`);
    }
  }
  return rows.sort((a, b) => a.cluster.localeCompare(b.cluster) || a.service.localeCompare(b.service) || a.node.localeCompare(b.node, undefined, { numeric: true }));
}
