import { Option, type Command } from "commander";

/** How long `hoist agent run` may take to stop after SIGTERM/SIGINT before it exits regardless. */
const STOP_BOUND_MS = 4000;

/** `hoist agent run`: the agent daemon, until SIGTERM or SIGINT. */
export function registerAgentRunCommand(program: Command): void {
  const agent = program.commands.find((command) => command.name() === "agent") ?? program.command("agent").description("the node agent: run it, or ask a running one");
  agent
    .command("run")
    .description("run the agent daemon: resume interrupted upgrades, serve gRPC (grpc:), answer the coordinator on NATS (nats:)")
    .requiredOption("-c, --config <file>", "agent config file (YAML)")
    .option("--log-level <level>", "trace, debug, info, warn or error", "info")
    .addOption(new Option("--metrics-listen <addr>", "serve Prometheus metrics on HOST:PORT /metrics (overrides metrics.listen of the config; e.g. 127.0.0.1:7412)").env("HOIST_METRICS_LISTEN"))
    .action(async (options: { config: string; logLevel: string; metricsListen?: string }) => {
      // Loaded when the command runs, not when `hoist` starts (see cli/main.ts).
      const [{ createLogger }, { loadAgentConfig }, { runAgent }] = await Promise.all([import("../../shared/logger/index.ts"), import("../config.ts"), import("../main.ts")]);
      const loaded = await loadAgentConfig(options.config);
      const config = options.metricsListen ? Object.freeze({ ...loaded, metrics: Object.freeze({ listen: options.metricsListen }) }) : loaded;
      const logger = createLogger({ level: options.logLevel }).child({ node: config.node, cluster: config.cluster });
      const running = await runAgent(config, logger);
      // Signal listeners do not keep Node's event loop alive: without gRPC or NATS nothing else would,
      // and the process would end (exit code 13, an unsettled top-level await) right after start.
      const keepAlive = setInterval(() => undefined, 2 ** 30);
      await new Promise<void>((resolve) => {
        const shutdown = (signal: NodeJS.Signals) => {
          logger.info({ signal }, "stopping");
          resolve();
        };
        process.once("SIGTERM", shutdown);
        process.once("SIGINT", shutdown);
      });
      clearInterval(keepAlive);
      // Stop means stop: whatever still holds the event loop after a bounded stop (a hook's pipes, a
      // peer that never answers) must not keep the daemon alive; the journal resumes any operation.
      const forced = setTimeout(() => {
        logger.warn({ afterMs: STOP_BOUND_MS }, "stop took too long; exiting");
        process.exit(1);
      }, STOP_BOUND_MS);
      forced.unref();
      await running.stop();
      logger.info("stopped");
      process.exit(process.exitCode ?? 0);
    });
}
