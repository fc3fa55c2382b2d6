import { Events, type NatsConnection } from "nats";

/** What a request waiting for its reply needs of a ConnectionWatch. */
export interface ConnectionLoss {
  /** Calls `fn` once at the next disconnect; the function returned stops that. */
  onLost(fn: () => void): () => void;
}

/**
 * Tells waiting requests that the NATS connection dropped. A reply published while the server was
 * down (or before the client reconnected) is lost for good: nats.js would only report a TIMEOUT at
 * the request's full deadline. Each request registers with `onLost` and is called at the next
 * disconnect, so a caller can ask again at once under the same idempotency key. A Set, not an
 * AbortSignal's listeners: thousands of requests wait at once (a batch of 3,000 upgrades), and an
 * EventTarget looks through its listeners on every add and remove (~3 CPU-s of a 3,000-node rollout).
 */
export class ConnectionWatch implements ConnectionLoss {
  private waiting = new Set<() => void>();

  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type !== Events.Disconnect && status.type !== Events.Reconnect) continue;
        const lost = this.waiting;
        this.waiting = new Set();
        for (const fn of lost) fn();
      }
    })().catch(() => undefined);
  }

  onLost(fn: () => void): () => void {
    const waiting = this.waiting;
    waiting.add(fn);
    return () => waiting.delete(fn);
  }
}
