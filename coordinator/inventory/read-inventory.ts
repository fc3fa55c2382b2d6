import type { KV } from "nats";
import { decodeJson } from "../../shared/bus/index.ts";
import { nodeInventorySchema, type ObservedInventory } from "../../shared/inventory/index.ts";
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
      const entry = await kv.get(key);
      if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return;
      const raw = decodeJson<Record<string, unknown>>(entry.value);
      const parsed = nodeInventorySchema.safeParse(raw);
      if (!parsed.success) {
        logger?.warn({ key, issues: parsed.error.issues.slice(0, 3) }, "skipping an invalid inventory record");
        return;
      }
      const lastSeen = typeof raw.lastSeen === "string" ? Date.parse(raw.lastSeen) : Number.NaN;
      const inventory = parsed.data;
      const name = cluster === undefined ? key : inventory.node;
      result[name] = { inventory, seenAt: Number.isNaN(lastSeen) ? entry.created.getTime() : lastSeen };
    }),
  );
  return result;
}

