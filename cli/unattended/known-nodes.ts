import type { NatsConnection } from "nats";
import { KV_INVENTORY } from "../../shared/bus/index.ts";
import { findServiceInventory, readInventories } from "../../shared/inventory/index.ts";
import type { KnownNode } from "../../shared/unattended/index.ts";

/**
 * The nodes of CLUSTER whose inventory (KV `hoist_inventory`) has SERVICE installed: what `status`
 * lists as not reporting when they have no unattended report. Empty when the inventory cannot be read
 * (status still shows the reports).
 */
export async function readKnownNodes(nc: NatsConnection, cluster: string, service: string): Promise<KnownNode[]> {
  try {
    const kv = await nc.jetstream().views.kv(KV_INVENTORY, { bindOnly: true });
    const inventories = await readInventories(kv, cluster);
    return Object.values(inventories).flatMap(({ inventory, seenAt }) => {
      const entry = findServiceInventory(inventory, service);
      if (!entry) return [];
      return [{ node: inventory.node, seenAt, ...(entry.activeVersion ? { version: entry.activeVersion } : {}) }];
    });
  } catch {
    return [];
  }
}
