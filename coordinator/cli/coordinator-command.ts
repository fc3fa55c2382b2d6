import { Option, type Command } from "commander";
import { agentGrpcFromFlags, withAgentGrpcOptions, type AgentGrpcFlags } from "./agent-grpc-flags.ts";
import { dashboardFromFlags, withHttpOptions, type HttpFlags } from "./http-flags.ts";

export function registerCoordinatorCommand(program: Command): void {
  withHttpOptions(withAgentGrpcOptions(program.command("coordinator")), "also serve the live web dashboard here")
    .description("run the coordinator daemon: drives recorded rollouts, takes over those whose coordinator died; with no --nats it starts a local nats-server with JetStream")
    .addOption(new Option("--nats <urls>", "NATS server URL(s), comma-separated (default: embedded nats-server)").env("HOIST_NATS_URL"))
    .addOption(new Option("--nats-token <token>", "NATS auth token").env("HOIST_NATS_TOKEN"))
    .addOption(new Option("--nats-replicas <n>", "replicas (1, 3 or 5) of HOIST_EVENTS and the KV buckets; default 3 on a NATS cluster of 3+ servers, else 1").env("HOIST_NATS_REPLICAS"))
    .option("--state-dir <dir>", "where the embedded nats-server keeps JetStream data", "./hoist-coordinator")
    .option("--nats-port <port>", "port of the embedded nats-server (0: a free one)", "4222")
    .option("--log-level <level>", "trace, debug, info, warn or error", "info")
    .addOption(new Option("--metrics-listen <addr>", "serve Prometheus metrics on HOST:PORT /metrics (e.g. 127.0.0.1:7413; unauthenticated: keep it on loopback or firewalled)").env("HOIST_METRICS_LISTEN"))
    .option("-c, --config <file>", "coordinator config (YAML): announcement webhooks (docs/config.md)")
    .action(async (flags: AgentGrpcFlags & HttpFlags & { config?: string; nats?: string; natsToken?: string; natsReplicas?: string; stateDir: string; natsPort: string; logLevel: string; metricsListen?: string }) => {
      const dashboard = dashboardFromFlags(flags);
      // Loaded when the command runs, not when `hoist` starts (see cli/main.ts).
      const [{ createLogger }, { runCoordinator }, { loadCoordinatorConfig }] = await Promise.all([import("../../shared/logger/index.ts"), import("../main.ts"), import("../config.ts")]);
      const logger = createLogger({ level: flags.logLevel });
      const config = flags.config === undefined ? undefined : await loadCoordinatorConfig(flags.config);
      const running = await runCoordinator(
        {
          ...(flags.nats ? { natsUrls: flags.nats.split(",") } : {}),
          ...(flags.natsToken ? { natsToken: flags.natsToken } : {}),
          ...(flags.natsReplicas ? { natsReplicas: flags.natsReplicas } : {}),
          stateDir: flags.stateDir,
          embeddedPort: Number(flags.natsPort),
          agentGrpc: agentGrpcFromFlags(flags),
          ...(dashboard ? { dashboard } : {}),
          ...(flags.metricsListen ? { metricsListen: flags.metricsListen } : {}),
          ...(config ? { webhooks: config.webhooks } : {}),
        },
        logger,
      );
      process.stdout.write(`coordinator ${running.owner} on ${running.natsUrl}${running.metricsAddress ? `, metrics on http://${running.metricsAddress}/metrics` : ""}\n`);
      if (running.dashboardUrl) process.stdout.write(`dashboard on ${running.dashboardUrl}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", () => resolve());
        process.once("SIGINT", () => resolve());
      });
      await running.stop();
    });
}
