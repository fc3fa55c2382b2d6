import type { Command } from "commander";
import { decodeJson } from "../../shared/bus/index.ts";
import { readInventories } from "../inventory/read-inventory.ts";
import { findDrift } from "../inventory/drift.ts";
import { formatFleet } from "../inventory/format-fleet.ts";
import { openBus, withBusOptions, type BusFlags } from "./bus-options.ts";

export function registerInventoryCommand(program: Command): void {
  withBusOptions(program.command("inventory"))
    .description("fleet-wide versions: every node with its services, active version, artifact sha256, health, last seen, agent, OS, disk; drift flagged")
    .option("--cluster <id>", "only this cluster")
    .option("--stale-after-ms <ms>", "flag nodes not seen for this long", "15000")
    .option("--json", "print as JSON")
    .action(async (flags: BusFlags & { cluster?: string; staleAfterMs: string; json?: boolean }) => {
      const bus = await openBus(flags, "hoist inventory");
      try {
        const inventories = await readInventories(bus.buckets.inventory, flags.cluster);
        const desired: Record<string, string> = {};
        for await (const key of await bus.buckets.desired.keys()) {
          const entry = await bus.buckets.desired.get(key);
          if (entry && entry.operation === "PUT" && entry.value.length > 0) desired[key.replace(".", "/")] = decodeJson<string>(entry.value);
        }
        const now = Date.now();
        const rows = findDrift({ inventories, desired, now, staleAfterMs: Number(flags.staleAfterMs) });
        process.stdout.write(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatFleet(rows, now)}\n`);
      } finally {
        await bus.close();
      }
    });
}
