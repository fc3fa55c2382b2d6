import { Events, type NatsConnection } from "nats";
import { Counter, Gauge, type Registry } from "prom-client";

/**
 * NATS connection state in `registry`: `hoist_nats_connected` (1 while connected, 0 while
 * disconnected or reconnecting), `hoist_nats_reconnects_total` and `hoist_nats_disconnects_total`.
 * Follows `nc.status()` until the connection closes or the returned stop is called.
 */
export function watchNatsConnection(nc: NatsConnection, registry: Registry): () => void {
  const connected = new Gauge({ name: "hoist_nats_connected", help: "1 while the NATS connection is up, 0 while it is disconnected or reconnecting", registers: [registry] });
  const reconnects = new Counter({ name: "hoist_nats_reconnects_total", help: "Times the NATS connection came back after a disconnect", registers: [registry] });
  const disconnects = new Counter({ name: "hoist_nats_disconnects_total", help: "Times the NATS connection was lost", registers: [registry] });
  connected.set(nc.isClosed() ? 0 : 1);
  reconnects.inc(0);
  disconnects.inc(0);
  let stopped = false;
  const status = nc.status();
  void (async () => {
    for await (const event of status) {
      if (stopped) break;
      if (event.type === Events.Disconnect) {
        connected.set(0);
        disconnects.inc();
      } else if (event.type === Events.Reconnect) {
        connected.set(1);
        reconnects.inc();
      }
    }
  })().catch(() => undefined);
  void nc.closed().then(() => connected.set(0));
  return () => {
    stopped = true;
  };
}
