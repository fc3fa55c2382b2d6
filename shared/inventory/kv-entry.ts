import type { KvEntry } from "nats";
import { decodeJson } from "../bus/index.ts";
import type { Logger } from "../logger/index.ts";
import type { ObservedInventory } from "./observed.ts";
import { nodeInventorySchema } from "./schema.ts";

/**
 * A node's inventory as stored in KV hoist_inventory (key `CLUSTER.NODE`), validated: `seenAt` is the
 * agent's own last-seen stamp (the heartbeat), falling back to the entry's time. Deleted, empty or
 * invalid records give undefined (an invalid one is logged, never trusted).
 */
export function parseInventoryEntry(key: string, entry: KvEntry | null, logger?: Logger): ObservedInventory | undefined {
  if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return undefined;
  const raw = decodeJson<Record<string, unknown>>(entry.value);
  const parsed = nodeInventorySchema.safeParse(raw);
  if (!parsed.success) {
    logger?.warn({ key, issues: parsed.error.issues.slice(0, 3) }, "skipping an invalid inventory record");
    return undefined;
  }
  const lastSeen = typeof raw.lastSeen === "string" ? Date.parse(raw.lastSeen) : Number.NaN;
  return { inventory: parsed.data, seenAt: Number.isNaN(lastSeen) ? entry.created.getTime() : lastSeen };
}
