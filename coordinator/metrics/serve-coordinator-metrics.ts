import type { Logger } from "../../shared/logger/index.ts";
import { serveMetrics, type MetricsListener } from "../../shared/metrics/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { createCoordinatorMetrics } from "./coordinator-metrics.ts";

/**
 * Serves the coordinator's metrics on `listen` (`hoist coordinator --metrics-listen`): rollouts and
 * fleet read from KV at each scrape, plus the coordinator's NATS connection state.
 * @throws HoistError CONFIG_INVALID (bad address), UNAVAILABLE (cannot bind).
 */
export async function serveCoordinatorMetrics(bus: Bus, owner: string, listen: string, logger: Logger): Promise<MetricsListener> {
  const metrics = createCoordinatorMetrics(bus, owner);
  return serveMetrics({ listen, registry: metrics.registry, logger, refresh: () => metrics.refresh(), nc: bus.nc });
}
