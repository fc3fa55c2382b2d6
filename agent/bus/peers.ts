import type { KV } from "nats";
import { readInventories, type NodeInventory } from "../../shared/inventory/index.ts";

/** A peer's inventory older than this is not counted as in service. */
export const PEER_STALE_AFTER_MS = 30_000;

/**
 * The other nodes of the cluster that serve `service` now (pure): their agent was seen within
 * `staleAfterMs`, the service's health is SERVING and Hoist is doing nothing to it. Sorted by name.
 */
export function selectPeersInService(inventories: readonly { inventory: NodeInventory; seenAt: number }[], self: string, service: string, now: number, staleAfterMs = PEER_STALE_AFTER_MS): string[] {
  return inventories
    .filter(({ inventory, seenAt }) => inventory.node !== self && now - seenAt <= staleAfterMs)
    .filter(({ inventory }) => inventory.services.some((entry) => entry.name === service && entry.health === "SERVING" && entry.activity === "idle"))
    .map(({ inventory }) => inventory.node)
    .sort();
}

/**
 * Reads the cluster's inventories from KV (hoist_inventory, `CLUSTER.NODE`) and returns the peers in
 * service (see selectPeersInService). Hooks get them as HOIST_PEERS, e.g. for `join_cluster PEER`.
 */
export async function readPeersInService(kv: KV, cluster: string, self: string, service: string): Promise<string[]> {
  const inventories = Object.values(await readInventories(kv, cluster));
  return selectPeersInService(inventories, self, service, Date.now());
}
