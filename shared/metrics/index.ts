/**
 * Prometheus metrics both roles share: the /metrics HTTP listener, NATS connection state, state sets
 * and buckets. What each role measures lives in agent/metrics and coordinator/metrics; every metric
 * is listed in docs/metrics.md. It loads prom-client (~40 ms): roles import it only when metrics are on.
 */
export { startMetricsListener, parseListen, type MetricsListener, type MetricsListenerOptions } from "./http-listener.ts";
export { watchNatsConnection } from "./nats-connection.ts";
export { serveMetrics, type ServeMetricsOptions } from "./serve-metrics.ts";
export { setStateSet, STEP_SECONDS_BUCKETS, SNAPSHOT_SECONDS_BUCKETS } from "./state-set.ts";
