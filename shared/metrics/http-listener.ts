import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { HoistError } from "../errors/index.ts";
import type { Logger } from "../logger/index.ts";
import { splitHostPort, type HostPort } from "../net/index.ts";

export interface MetricsListenerOptions {
  /** HOST:PORT or [IPv6]:PORT (PORT 0: any free one). */
  listen: string;
  registry: Registry;
  logger: Logger;
  /** Runs before each scrape is rendered (reads the state the collect-time gauges show); its failure is logged, the scrape goes on. */
  beforeScrape?: () => Promise<void>;
}

/** A running metrics listener. */
export interface MetricsListener {
  /** HOST:PORT it serves on, with the bound port. */
  address: string;
  port: number;
  /** Closes the listener and open connections. Idempotent. */
  stop(): Promise<void>;
}

/** Splits HOST:PORT, [IPv6]:PORT or :PORT (loopback). @throws HoistError CONFIG_INVALID when it is none of these. */
export function parseListen(listen: string): HostPort {
  const address = splitHostPort(listen);
  if (!address) throw new HoistError("CONFIG_INVALID", `metrics listen address ${JSON.stringify(listen)} is not HOST:PORT (for example 127.0.0.1:7412)`);
  return { host: address.host === "" ? "127.0.0.1" : address.host, port: address.port };
}

/**
 * Serves `registry` in the Prometheus text format on GET /metrics (HEAD too; anything else is 404,
 * other methods 405). Unauthenticated and read-only: keep it on loopback or behind a firewall that
 * only lets Prometheus in (docs/metrics.md).
 * @throws HoistError CONFIG_INVALID (bad address), UNAVAILABLE (cannot bind).
 */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const { host, port } = parseListen(options.listen);
  const log = options.logger.child({ component: "metrics" });
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are served on /metrics\n");
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("only GET and HEAD\n");
      return;
    }
    void render(options, log).then(
      (body) => response.writeHead(200, { "content-type": options.registry.contentType }).end(request.method === "HEAD" ? undefined : body),
      (err: unknown) => {
        log.warn({ err }, "rendering metrics failed");
        response.writeHead(500, { "content-type": "text/plain" }).end("rendering metrics failed; see the log\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new HoistError("UNAVAILABLE", `cannot serve metrics on ${options.listen}: ${err.message}; pick a free address`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const address = host.includes(":") ? `[${host}]:${bound}` : `${host}:${bound}`;
  log.info({ address }, "serving metrics on /metrics");

  let stopping: Promise<void> | undefined;
  return {
    address,
    port: bound,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

async function render(options: MetricsListenerOptions, log: Logger): Promise<string> {
  if (options.beforeScrape) await options.beforeScrape().catch((err: unknown) => log.warn({ err }, "reading the state for metrics failed; serving the last one read"));
  return options.registry.metrics();
}
