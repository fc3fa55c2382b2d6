import { AckPolicy, DeliverPolicy, nanos, nuid, type ConsumerMessages, type NatsConnection } from "nats";
import { EVENTS_STREAM, EVENTS_STREAM_SUBJECTS, decodeJson, toBusError } from "../../shared/bus/index.ts";

/** How many past events a new page gets before the live ones. */
export const BACKLOG_EVENTS = 200;

/** Consumers of the dashboard are named so; an operator (or a test) can tell them from others. */
export const FEED_CONSUMER_PREFIX = "hoist-dashboard-";

/** One event of the HOIST_EVENTS stream as the page gets it. */
export interface FeedEvent {
  /** Stream sequence: the SSE id, so a reconnecting page goes on after the last one it saw. */
  seq: number;
  subject: string;
  /** The event as published (agent progress, rollout transition or step). */
  event: unknown;
}

export interface EventFeed {
  /** Stops delivery and removes the consumer from the stream. */
  close(): Promise<void>;
}

/**
 * Reads the HOIST_EVENTS stream for one page: an ephemeral consumer of its own (no acks, memory
 * storage, one replica) starting after `afterSeq` or, for a new page, `BACKLOG_EVENTS` back. The
 * consumer is deleted when the page goes (`close`); should this process die first, the server
 * drops it after 30 s without a pull.
 * @throws HoistError UNAVAILABLE/TIMEOUT when the stream cannot be read.
 */
export async function openEventFeed(nc: NatsConnection, afterSeq: number | undefined, onEvent: (event: FeedEvent) => void): Promise<EventFeed> {
  const name = `${FEED_CONSUMER_PREFIX}${nuid.next()}`;
  let messages: ConsumerMessages | undefined;
  try {
    const jsm = await nc.jetstreamManager();
    const start = afterSeq === undefined ? Math.max(1, (await jsm.streams.info(EVENTS_STREAM)).state.last_seq - BACKLOG_EVENTS + 1) : afterSeq + 1;
    await jsm.consumers.add(EVENTS_STREAM, {
      name,
      filter_subject: EVENTS_STREAM_SUBJECTS[0]!,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(30_000),
    });
    const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM, name);
    messages = await consumer.consume({
      callback: (message) => {
        let event: unknown;
        try {
          event = decodeJson<unknown>(message.data);
        } catch {
          return;
        }
        onEvent({ seq: message.seq, subject: message.subject, event });
      },
    });
    const running = messages;
    return {
      async close() {
        running.stop();
        await jsm.consumers.delete(EVENTS_STREAM, name).catch(() => undefined);
      },
    };
  } catch (err) {
    messages?.stop();
    throw toBusError(err, "reading the event stream");
  }
}
