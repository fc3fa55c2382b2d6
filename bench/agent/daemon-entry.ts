// What `hoist agent run` runs, and nothing else: the bench bundles this with esbuild (npm packages
// external, as the compiled `hoist` does) to measure the agent daemon as compiled JavaScript.
import { Command } from "commander";
import { registerAgentRunCommand } from "../../agent/cli/run-command.ts";

const program = new Command().name("hoist");
registerAgentRunCommand(program);
await program.parseAsync(process.argv);
