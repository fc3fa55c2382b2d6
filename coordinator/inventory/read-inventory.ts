import type { KV } from "nats";
import { inventoryKey } from "../../shared/bus/index.ts";
import { parseInventoryEntry, type ObservedInventory } from "../../shared/inventory/index.ts";
import type { Logger } from "../../shared/logger/index.ts";

/**
 * Reads every node inventory the agents of `cluster` (or of all clusters) published to KV. `seenAt`
 * is the agent's own last-seen stamp (the heartbeat), falling back to the KV entry's time. Records
 * that fail validation are skipped with a warning, never trusted.
 */
export async function readInventories(kv: KV, cluster: string | undefined, logger?: Logger): Promise<Record<string, ObservedInventory>> {
  const keys: string[] = [];
  for await (const key of await kv.keys(cluster === undefined ? ">" : `${cluster}.*`)) keys.push(key);
  const result: Record<string, ObservedInventory> = {};
  await Promise.all(
    keys.map(async (key) => {
      const observed = parseInventoryEntry(key, await kv.get(key), logger);
      if (observed) result[cluster === undefined ? key : observed.inventory.node] = observed;
    }),
  );
  return result;
}

/**
 * One node's inventory, read with a single direct get (no key listing, no consumer): what the health
 * gate needs to find a node's gRPC address. Undefined when the node never published a valid one.
 */
export async function readInventory(kv: KV, cluster: string, node: string, logger?: Logger): Promise<ObservedInventory | undefined> {
  const key = inventoryKey(cluster, node);
  return parseInventoryEntry(key, await kv.get(key), logger);
}
