import type { Logger } from "../../shared/logger/index.ts";
import { startMetricsListener, watchNatsConnection, type MetricsListener } from "../../shared/metrics/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { createCoordinatorMetrics } from "./coordinator-metrics.ts";

/**
 * Serves the coordinator's metrics on `listen` (`hoist coordinator --metrics-listen`): rollouts and
 * fleet read from KV at each scrape, plus the coordinator's NATS connection state.
 * @throws HoistError CONFIG_INVALID (bad address), UNAVAILABLE (cannot bind).
 */
export async function serveCoordinatorMetrics(bus: Bus, owner: string, listen: string, logger: Logger): Promise<MetricsListener> {
  const metrics = createCoordinatorMetrics(bus, owner);
  const stopNatsWatch = watchNatsConnection(bus.nc, metrics.registry);
  try {
    const listener = await startMetricsListener({ listen, registry: metrics.registry, logger, beforeScrape: () => metrics.refresh() });
    return {
      ...listener,
      async stop() {
        await listener.stop();
        stopNatsWatch();
      },
    };
  } catch (err) {
    stopNatsWatch();
    throw err;
  }
}
