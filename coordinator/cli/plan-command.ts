import type { Command } from "commander";
import { loadCatalog, serviceCatalog } from "../../shared/catalog/index.ts";
import { retryBus } from "../../shared/bus/index.ts";
import { buildPlan, type Plan } from "../plan/build-plan.ts";
import { formatPlan } from "../plan/format-plan.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import { askInventories } from "../inventory/ask-agents.ts";
import { strategyFromFlags, withStrategyOptions, type StrategyFlags } from "./strategy-flags.ts";
import { openBus, type Bus } from "../bus/open-bus.ts";
import { withBusOptions, type BusFlags } from "./bus-options.ts";

export interface PlanFlags extends StrategyFlags, BusFlags {
  catalog: string;
  cluster: string;
  service: string;
  to: string;
  allowDowngrade?: boolean;
  json?: boolean;
}

/** Adds what `plan` and `rollout start` both take. */
export function withPlanOptions(command: Command): Command {
  return withStrategyOptions(withBusOptions(command))
    .requiredOption("--catalog <file>", "catalog file listing the service's releases")
    .requiredOption("--cluster <id>", "cluster id")
    .requiredOption("--service <name>", "managed service to upgrade")
    .requiredOption("--to <version>", "target version")
    .option("--allow-downgrade", "allow a target older than the nodes' version")
    .option("--json", "print as JSON");
}

/**
 * Reads the inventories the agents published, asks every agent for a fresh one (so a node whose agent
 * died seconds ago fails the preflight at once), and builds the plan on what they said.
 */
export async function planFromBus(bus: Bus, flags: PlanFlags): Promise<Plan> {
  const catalog = serviceCatalog(await loadCatalog(flags.catalog), flags.service);
  const { inventories, unanswered } = await askInventories(bus.nc, flags.cluster, await readInventories(bus.buckets.inventory, flags.cluster));
  return buildPlan({
    catalog,
    service: flags.service,
    cluster: flags.cluster,
    to: flags.to,
    allowDowngrade: flags.allowDowngrade ?? false,
    strategy: strategyFromFlags(flags),
    inventories,
    unanswered,
    now: Date.now(),
  });
}

export function registerPlanCommand(program: Command): void {
  withPlanOptions(program.command("plan"))
    .description("show how a cluster would be upgraded: every hop, rolling or full-stop (and why), batches, gates, preflight")
    .action(async (flags: PlanFlags) => {
      const bus = await openBus(flags, "hoist plan");
      try {
        const plan = await retryBus("planning", () => planFromBus(bus, flags), bus.retry);
        process.stdout.write(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n`);
        if (!plan.preflight.ok) process.exitCode = 1;
      } finally {
        await bus.close();
      }
    });
}
