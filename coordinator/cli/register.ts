import type { Command } from "commander";
import { registerPlanCommand } from "./plan-command.ts";
import { registerRolloutCommands } from "./rollout-commands.ts";
import { registerInventoryCommand } from "./inventory-command.ts";
import { registerCoordinatorCommand } from "./coordinator-command.ts";
import { registerDashboardCommand } from "./dashboard-command.ts";

/** Registers the cluster commands: plan, rollout, inventory, coordinator, dashboard. */
export function registerCoordinatorCommands(program: Command): void {
  registerPlanCommand(program);
  registerRolloutCommands(program);
  registerInventoryCommand(program);
  registerCoordinatorCommand(program);
  registerDashboardCommand(program);
}
