import { Command, CommanderError } from "commander";
import { HoistError, toHoistError } from "../shared/errors/index.ts";
import { registerAgentCommands } from "../agent/cli/register.ts";
import { registerAgentRunCommand } from "../agent/cli/run-command.ts";
import { registerAgentStatusCommand } from "../agent/grpc/status-command.ts";
import { registerCoordinatorCommands } from "../coordinator/cli/register.ts";

/** `hoist`: wires the agent's and the coordinator's commands into one program. */
const program = new Command().name("hoist").description("Safe, unattended upgrades of self-hosted server software, one node or a whole cluster.").showHelpAfterError("(run with --help for usage)").exitOverride();

registerAgentCommands(program);
registerAgentRunCommand(program);
registerAgentStatusCommand(program);
registerCoordinatorCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const error = err instanceof HoistError ? err : toHoistError(err);
    process.stderr.write(`hoist: error [${error.code}]: ${error.message}\n`);
    if (error.code === "INTERNAL" && error.cause instanceof Error && error.cause.stack) process.stderr.write(`${error.cause.stack}\n`);
    process.exitCode = error.code === "INVALID_ARGUMENT" || error.code === "CONFIG_INVALID" ? 2 : 1;
  }
}
