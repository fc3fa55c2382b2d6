import type { NodeInventory, ServiceInventory } from "../types/index.ts";

/**
 * A node's inventory as the coordinator last saw it: the published record and when it was seen
 * (the KV entry's time, in ms since the epoch). A node that never published has no ObservedInventory.
 */
export interface ObservedInventory {
  inventory: NodeInventory;
  seenAt: number;
}

/** The inventory of one service on a node, or undefined when the service is not installed there. */
export function findServiceInventory(inventory: NodeInventory, service: string): ServiceInventory | undefined {
  return inventory.services.find((entry) => entry.name === service);
}

/**
 * The smallest free space over the node's reported disks (install roots and data dirs), or undefined
 * when the agent reported none. Conservative on purpose: the inventory does not say which disk will
 * hold the release and which the snapshot.
 */
export function minFreeBytes(inventory: NodeInventory): number | undefined {
  if (inventory.host.disks.length === 0) return undefined;
  return Math.min(...inventory.host.disks.map((disk) => disk.freeBytes));
}
