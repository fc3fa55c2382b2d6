import type { Command } from "commander";
import type { ControlName } from "../rollout/fold.ts";
import { withBusOptions, type BusFlags } from "./bus-options.ts";
import { withPlanOptions, type PlanFlags } from "./plan-command.ts";
import { withAgentGrpcOptions, type AgentGrpcFlags } from "./agent-grpc-flags.ts";

export interface RolloutRef extends BusFlags {
  cluster: string;
  id?: string;
}

function withRolloutRef(command: Command): Command {
  return withBusOptions(command).requiredOption("--cluster <id>", "cluster id").option("--id <rollout>", "rollout id (default: the cluster's newest)");
}

/** The actions (rollout-actions.ts), loaded when a rollout command runs, not at every start of `hoist`. */
const actions = () => import("./rollout-actions.ts");

export function registerRolloutCommands(program: Command): void {
  const rollout = program.command("rollout").description("run and steer rolling cluster upgrades");

  withAgentGrpcOptions(withPlanOptions(rollout.command("start")))
    .description("plan, check preflight, record the rollout, and drive it here with live progress (or leave it to `hoist coordinator` with --detach)")
    .option("--detach", "record the rollout and return; a running `hoist coordinator` drives it")
    .option("--quiet", "no live progress, only the final status")
    .option("--confirm <versions>", "comma-separated versions whose release notes you have read (catalog `requireConfirm: true`)")
    .action(async (flags: PlanFlags & AgentGrpcFlags & { detach?: boolean; quiet?: boolean; confirm?: string }) => (await actions()).startRolloutCommand(flags));

  withAgentGrpcOptions(withRolloutRef(rollout.command("drive")))
    .description("drive a recorded rollout here (takes over once the previous coordinator's lease has expired)")
    .option("--quiet", "no live progress, only the final status")
    .action(async (flags: RolloutRef & AgentGrpcFlags & { quiet?: boolean }) => (await actions()).driveRolloutCommand(flags));

  withRolloutRef(rollout.command("status"))
    .description("show a rollout: phase, every hop and node, failure, recent events")
    .option("--follow", "keep printing live events until the rollout ends")
    .option("--json", "print the rollout record as JSON")
    .action(async (flags: RolloutRef & { follow?: boolean; json?: boolean }) => (await actions()).rolloutStatusCommand(flags));

  const controls: [ControlName, string][] = [
    ["pause", "finish the work in progress, then start nothing new until resume"],
    ["resume", "go on after a pause"],
    ["abort", "finish the work in progress, then stop the rollout for good"],
    ["promote", "let the rollout go on past the canaries"],
  ];
  for (const [control, description] of controls) {
    withRolloutRef(rollout.command(control))
      .description(description)
      .action(async (flags: RolloutRef) => (await actions()).rolloutControlCommand(control, flags));
  }
}
