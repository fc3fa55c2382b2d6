import type { Command } from "commander";
import type { KV } from "nats";
import { decodeJson, retryBus, toBusError } from "../../shared/bus/index.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import { findDrift } from "../inventory/drift.ts";
import { formatFleet } from "../inventory/format-fleet.ts";
import { openBus } from "../bus/open-bus.ts";
import { withBusOptions, type BusFlags } from "./bus-options.ts";

/** The desired version of every CLUSTER/SERVICE (KV hoist_desired). */
async function readDesired(kv: KV): Promise<Record<string, string>> {
  const desired: Record<string, string> = {};
  try {
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry && entry.operation === "PUT" && entry.value.length > 0) desired[key.replace(".", "/")] = decodeJson<string>(entry.value);
    }
  } catch (err) {
    throw toBusError(err, "reading the desired versions");
  }
  return desired;
}

export function registerInventoryCommand(program: Command): void {
  withBusOptions(program.command("inventory"))
    .description("fleet-wide versions: every node with its services, active version, artifact sha256, health, last seen, agent, OS, disk; drift flagged")
    .option("--cluster <id>", "only this cluster")
    .option("--stale-after-ms <ms>", "flag nodes not seen for this long", "15000")
    .option("--json", "print as JSON")
    .action(async (flags: BusFlags & { cluster?: string; staleAfterMs: string; json?: boolean }) => {
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
    });
}
