import { Events, type NatsConnection } from "nats";

/**
 * Tells waiting requests that the NATS connection dropped. A reply published while the server was
 * down (or before the client reconnected) is lost for good: nats.js would only report a TIMEOUT at
 * the request's full deadline. `signal` is aborted at the next disconnect (a fresh one is handed out
 * afterwards), so a caller can ask again at once under the same idempotency key.
 */
export class ConnectionWatch {
  private controller = new AbortController();

  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type !== Events.Disconnect && status.type !== Events.Reconnect) continue;
        const lost = this.controller;
        this.controller = new AbortController();
        lost.abort();
      }
    })().catch(() => undefined);
  }

  /** Aborted when the connection drops after this call. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }
}
