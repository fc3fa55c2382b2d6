import { Command, CommanderError } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { HoistError, toHoistError } from "../shared/errors/index.ts";
import { registerAgentCommands } from "../agent/cli/register.ts";
import { registerAgentRunCommand } from "../agent/cli/run-command.ts";
import { registerAgentStatusCommand } from "../agent/grpc/status-command.ts";
import { registerCoordinatorCommands } from "../coordinator/cli/register.ts";

/**
 * `hoist`: wires the agent's and the coordinator's commands into one program. The registrations
 * only declare commands and flags; each action imports its code when it runs, so a start loads
 * commander and little else (bench/cli-start.bench.ts measures it).
 */
const program = new Command()
  .name("hoist")
  .description("Safe, unattended upgrades of self-hosted server software, one node or a whole cluster.")
  .version(packageJson.version, "-V, --version", "print hoist's version")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

/** Whether the command that runs was given --json: its errors then go to stdout as JSON too. */
let jsonOutput = false;
program.hook("preAction", (_program, actionCommand) => {
  jsonOutput = actionCommand.opts().json === true;
});

registerAgentCommands(program);
registerAgentRunCommand(program);
registerAgentStatusCommand(program);
registerCoordinatorCommands(program);
// `unattended` and `release` declare their commands in files that import their code
// (cli/unattended/register.ts): those load only when one of them is the command; otherwise
// help lists them by name, so `hoist --help` and every other command stay as lean as before.
const command = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
if (command === "unattended" || command === "release") {
  (await import("./unattended/register.ts")).registerUnattendedCommands(program);
} else {
  program.command("unattended").description("agent-driven rollouts: set the desired state once, the agents bring the fleet there in their windows (docs/unattended.md)");
  program.command("release").description("releases: push artifacts and catalogs to NATS");
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const error = err instanceof HoistError ? err : toHoistError(err);
    if (jsonOutput) process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message, retryable: error.retryable } }, null, 2)}\n`);
    process.stderr.write(`hoist: error [${error.code}]: ${error.message}\n`);
    // A stack only for a bug (INTERNAL: an error nobody expected); expected errors say what to do instead.
    if (error.code === "INTERNAL" && error.cause instanceof Error && error.cause.stack) process.stderr.write(`${error.cause.stack}\n`);
    process.exitCode = error.code === "INVALID_ARGUMENT" || error.code === "CONFIG_INVALID" ? 2 : 1;
  }
}
