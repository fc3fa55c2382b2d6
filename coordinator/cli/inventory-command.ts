import type { Command } from "commander";
import { retryBus } from "../../shared/bus/index.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import { findDrift } from "../inventory/drift.ts";
import { readDesired } from "../inventory/read-desired.ts";
import { formatFleet } from "../inventory/format-fleet.ts";
import { openBus } from "../bus/open-bus.ts";
import { withBusOptions, type BusFlags } from "./bus-options.ts";

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
