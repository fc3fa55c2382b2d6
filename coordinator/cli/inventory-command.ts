import type { Command } from "commander";
import { withBusOptions, type BusFlags } from "./bus-options.ts";

export interface InventoryFlags extends BusFlags {
  cluster?: string;
  staleAfterMs: string;
  json?: boolean;
}

export function registerInventoryCommand(program: Command): void {
  withBusOptions(program.command("inventory"))
    .description("fleet-wide versions: every node with its services, active version, artifact sha256, health, last seen, agent, OS, disk; drift flagged")
    .option("--cluster <id>", "only this cluster")
    .option("--stale-after-ms <ms>", "flag nodes not seen for this long", "15000")
    .option("--json", "print as JSON")
    .action(async (flags: InventoryFlags) => (await import("./inventory-action.ts")).runInventory(flags));
}
