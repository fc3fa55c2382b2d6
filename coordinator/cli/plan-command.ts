import type { Command } from "commander";
import { withStrategyOptions, type StrategyFlags } from "./strategy-flags.ts";
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

export function registerPlanCommand(program: Command): void {
  withPlanOptions(program.command("plan"))
    .description("show how a cluster would be upgraded: every hop, rolling or full-stop (and why), batches, gates, preflight")
    .action(async (flags: PlanFlags) => (await import("./plan-from-bus.ts")).runPlan(flags));
}
