import { setMaxListeners } from "node:events";
import { Events, type NatsConnection } from "nats";

/**
 * Tells waiting requests that the NATS connection dropped. A reply published while the server was
 * down (or before the client reconnected) is lost for good: nats.js would only report a TIMEOUT at
 * the request's full deadline. `signal` is aborted at the next disconnect (a fresh one is handed out
 * afterwards), so a caller can ask again at once under the same idempotency key.
 */
export class ConnectionWatch {
  private controller = ConnectionWatch.fresh();

  /** Every request in flight listens on it: a batch of 1,000 is not a leak. */
  private static fresh(): AbortController {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    return controller;
  }

  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type !== Events.Disconnect && status.type !== Events.Reconnect) continue;
        const lost = this.controller;
        this.controller = ConnectionWatch.fresh();
        lost.abort();
      }
    })().catch(() => undefined);
  }

  /** Aborted when the connection drops after this call. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }
}
