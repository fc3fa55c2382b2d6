import type { KV } from "nats";
import { inventoryKey, readLatest } from "../bus/index.ts";
import { parseInventoryEntry } from "./kv-entry.ts";
import type { ObservedInventory } from "./observed.ts";
import type { Logger } from "../logger/index.ts";

/**
 * Reads every node inventory the agents of `cluster` (or of all clusters) published to KV. `seenAt`
 * is the agent's own last-seen stamp (the heartbeat), falling back to the KV entry's time. Records
 * that fail validation are skipped with a warning, never trusted. The coordinator (fleet inventory,
 * preflight) and the agent (peers in service) both read them so.
 *
 * One KV watch delivers every key's last value (readLatest, shared/bus/read-latest.ts): 1,000
 * records in ~40 ms, where listing the keys and getting each took ~160 ms (bench/README.md).
 * @throws HoistError TIMEOUT (retryable) when the initial values do not arrive within 10 s.
 */
export async function readInventories(kv: KV, cluster: string | undefined, logger?: Logger): Promise<Record<string, ObservedInventory>> {
  const result: Record<string, ObservedInventory> = {};
  for (const entry of (await readLatest(kv, cluster === undefined ? ">" : `${cluster}.*`, "reading the inventory")).values()) {
    const observed = parseInventoryEntry(entry.key, entry, logger);
    if (observed) result[cluster === undefined ? entry.key : observed.inventory.node] = observed;
  }
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
