import { retryBus } from "../../shared/bus/index.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import { findDrift } from "../inventory/drift.ts";
import { readDesired } from "../inventory/read-desired.ts";
import { formatFleet } from "../inventory/format-fleet.ts";
import { openBus } from "../bus/open-bus.ts";
import type { InventoryFlags } from "./inventory-command.ts";

/** `hoist inventory`: every node's services and versions, drift flagged. */
export async function runInventory(flags: InventoryFlags): Promise<void> {
  const bus = await openBus(flags, "hoist inventory");
  try {
    const inventories = await retryBus("reading the inventory", () => readInventories(bus.buckets.inventory, flags.cluster), bus.retry);
    const desired = await retryBus("reading the desired versions", () => readDesired(bus.buckets.desired), bus.retry);
    const now = Date.now();
    const rows = findDrift({ inventories, desired, now, staleAfterMs: Number(flags.staleAfterMs) });
    process.stdout.write(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatFleet(rows, now)}\n`);
  } finally {
    await bus.close();
  }
}
