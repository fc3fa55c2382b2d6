import type { NatsConnection } from "nats";
import type { Logger } from "../../shared/logger/index.ts";
import { serveMetrics, type MetricsListener } from "../../shared/metrics/index.ts";
import type { AgentConfig } from "../config.ts";
import type { NodeAgentApi } from "../node-agent-api.ts";
import { createAgentMetrics } from "./agent-metrics.ts";

/**
 * Serves the agent's metrics on `listen` (the config's `metrics.listen`): the agent's own, plus the
 * NATS connection state when the agent is on NATS.
 * @throws HoistError CONFIG_INVALID (bad address), UNAVAILABLE (cannot bind).
 */
export async function serveAgentMetrics(agent: Pick<NodeAgentApi, "inventory">, config: AgentConfig, listen: string, nc: NatsConnection | undefined, logger: Logger): Promise<MetricsListener> {
  const metrics = createAgentMetrics(agent, config);
  return serveMetrics({ listen, registry: metrics.registry, logger, refresh: () => metrics.refresh(), ...(nc ? { nc } : {}), release: () => metrics.stop() });
}
