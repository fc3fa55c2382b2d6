import type { NatsConnection } from "nats";
import type { Registry } from "prom-client";
import type { Logger } from "../logger/index.ts";
import { startMetricsListener, type MetricsListener } from "./http-listener.ts";
import { watchNatsConnection } from "./nats-connection.ts";

export interface ServeMetricsOptions {
  listen: string;
  registry: Registry;
  logger: Logger;
  /** Reads the role's state into its gauges before each scrape. */
  refresh: () => Promise<void>;
  /** The role's NATS connection: its state is served too. */
  nc?: NatsConnection;
  /** Lets go of what fills the registry (channel subscriptions) once the listener is stopped, or when it could not start. */
  release?: () => void;
}

/**
 * Serves a role's registry on `listen`, with the NATS connection state added, refreshed before each
 * scrape. When the listener cannot start, everything is let go again before the error is thrown.
 * @throws HoistError CONFIG_INVALID (bad address), UNAVAILABLE (cannot bind).
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<MetricsListener> {
  const stopNatsWatch = options.nc ? watchNatsConnection(options.nc, options.registry) : undefined;
  const releaseAll = () => {
    stopNatsWatch?.();
    options.release?.();
  };
  try {
    const listener = await startMetricsListener({ listen: options.listen, registry: options.registry, logger: options.logger, beforeScrape: options.refresh });
    return {
      ...listener,
      async stop() {
        await listener.stop();
        releaseAll();
      },
    };
  } catch (err) {
    releaseAll();
    throw err;
  }
}
