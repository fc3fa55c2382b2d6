import type { NatsConnection } from "nats";

/** How long a stopping agent lets NATS flush what it still has to send. */
export const DRAIN_BOUND_MS = 2000;

/**
 * Drains the connection for at most `drainMs`, then closes it. nats.js `drain()` flushes first, and a
 * flush waits for the server: while the server is unreachable it never settles and the client keeps
 * dialling. `close()` also ends the reconnect loop, so after this resolves nothing of the connection
 * keeps the process alive. Never rejects.
 */
export async function closeConnection(nc: NatsConnection, drainMs = DRAIN_BOUND_MS): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
  try {
    await Promise.race([nc.isDraining() ? nc.closed() : nc.drain(), bound]).catch(() => undefined);
  } finally {
    clearTimeout(timer);
  }
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}

/** Runs `work` for at most `ms`; resolves either way (for shutdown steps that must not hold a stop). */
export async function boundedStep(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([work.catch(() => undefined), bound]);
  } finally {
    clearTimeout(timer);
  }
}
