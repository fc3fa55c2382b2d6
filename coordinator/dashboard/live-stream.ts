import type { IncomingMessage, ServerResponse } from "node:http";
import { KvWatchInclude, type KV } from "nats";
import type { Logger } from "../../shared/logger/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { openEventFeed, type EventFeed } from "./events-feed.ts";

/** Change notices are sent at most this often per kind: a fleet's heartbeats must not flood the page. */
const NOTICE_EVERY_MS = 100;
const KEEPALIVE_MS = 15_000;

/**
 * `GET /api/events`: a server-sent event stream for one page. `event: hoist` carries each event of
 * the HOIST_EVENTS stream (id = stream sequence, so EventSource's reconnect resumes after the last
 * one seen); `event: rollouts` and `event: fleet` say that the rollout or inventory records changed,
 * and the page reads them again. Everything it opened is closed when the page goes.
 */
export async function serveLiveStream(request: IncomingMessage, response: ServerResponse, bus: Bus, logger: Logger, onClose: (close: () => Promise<void>) => () => void): Promise<void> {
  const lastId = Number(request.headers["last-event-id"]);
  const afterSeq = Number.isInteger(lastId) && lastId > 0 ? lastId : undefined;
  response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
  response.write("retry: 1000\n\n");

  const send = (chunk: string) => {
    if (!response.destroyed) response.write(chunk);
  };
  const pending = new Map<string, NodeJS.Timeout>();
  const notice = (kind: "rollouts" | "fleet") => {
    if (pending.has(kind)) return;
    pending.set(
      kind,
      setTimeout(() => {
        pending.delete(kind);
        send(`event: ${kind}\ndata: {}\n\n`);
      }, NOTICE_EVERY_MS),
    );
  };

  let feed: EventFeed | undefined;
  const watchers: { stop(): void }[] = [];
  const keepalive = setInterval(() => send(": keepalive\n\n"), KEEPALIVE_MS);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    for (const timer of pending.values()) clearTimeout(timer);
    for (const watcher of watchers) watcher.stop();
    await feed?.close();
    if (!response.destroyed) response.end();
  };
  const forget = onClose(close);
  response.once("close", () => {
    forget();
    void close();
  });

  const watch = async (kv: KV, kind: "rollouts" | "fleet") => {
    const watcher = await kv.watch({ key: ">", include: KvWatchInclude.UpdatesOnly });
    if (closed) return watcher.stop();
    watchers.push(watcher);
    void (async () => {
      for await (const _entry of watcher) notice(kind);
    })().catch((err: unknown) => logger.debug({ err }, "dashboard: KV watch ended"));
  };
  try {
    await watch(bus.buckets.rollouts, "rollouts");
    await watch(bus.buckets.inventory, "fleet");
    feed = await openEventFeed(bus.nc, afterSeq, (event) => send(`id: ${event.seq}\nevent: hoist\ndata: ${JSON.stringify(event)}\n\n`));
    if (closed) await feed.close();
  } catch (err) {
    logger.warn({ err }, "dashboard: could not open the live stream");
    send(`event: trouble\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
    await close();
  }
}
