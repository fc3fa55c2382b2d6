import { AckPolicy, DeliverPolicy, type ConsumerMessages, type NatsConnection } from "nats";
import { decodeJson, EVENTS_STREAM, SUBJECT_PREFIX } from "../../shared/bus/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import type { RolloutEvent } from "../rollout/events.ts";
import { classifyEvent, type Announcement } from "./classify.ts";
import { postWebhook } from "./post-webhook.ts";
import { webhookBody } from "./webhook-body.ts";
import type { ResolvedWebhook } from "./webhook-config.ts";

/** The durable consumer of HOIST_EVENTS that every coordinator shares, so each event is announced once. */
export const ANNOUNCE_CONSUMER = "hoist-announce";
/** Rollout events only (agents' progress events are not announced). */
const ROLLOUT_EVENTS_FILTER = `${SUBJECT_PREFIX}.*._rollout.events`;

export interface AnnouncerOptions {
  nc: NatsConnection;
  webhooks: readonly ResolvedWebhook[];
  logger: Logger;
  /** Name of the durable consumer (default ANNOUNCE_CONSUMER). */
  consumer?: string;
}

export interface Announcer {
  stop(): Promise<void>;
}

function wants(webhook: ResolvedWebhook, announcement: Announcement): boolean {
  return webhook.events.includes(announcement.kind) && (webhook.clusters === undefined || webhook.clusters.includes(announcement.cluster));
}

/** The longest one announcement may take on its slowest webhook: every attempt timing out, every retry delay. */
function worstCaseMs(webhooks: readonly ResolvedWebhook[]): number {
  return Math.max(0, ...webhooks.map((webhook) => webhook.timeoutMs * (webhook.retries + 1) + webhook.retryDelayMs * (2 ** webhook.retries - 1)));
}

/**
 * Posts rollout events to webhooks. It reads HOIST_EVENTS through a durable JetStream consumer that
 * starts at the events published after it was first made, and acks each event once every webhook
 * has taken it or given up; so rollouts driven by any process (the daemon, `rollout start` in the
 * foreground) are announced, each event once, even across coordinator restarts and takeovers.
 *
 * It runs beside the rollouts and never touches them: a webhook that is slow, down or refusing only
 * delays later announcements (each POST is bounded by its timeout and retries) and is logged as a
 * warning; nothing it does can block or fail an upgrade.
 */
export async function startAnnouncer(options: AnnouncerOptions): Promise<Announcer> {
  const { nc, webhooks, logger } = options;
  const name = options.consumer ?? ANNOUNCE_CONSUMER;
  const jsm = await nc.jetstreamManager();
  const ackWaitMs = worstCaseMs(webhooks) + 30_000;
  const config = { durable_name: name, filter_subject: ROLLOUT_EVENTS_FILTER, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, ack_wait: ackWaitMs * 1e6, max_ack_pending: 1 };
  const existing = await jsm.consumers.info(EVENTS_STREAM, name).catch(() => undefined);
  if (existing) await jsm.consumers.update(EVENTS_STREAM, name, { ack_wait: config.ack_wait, max_ack_pending: 1 });
  else await jsm.consumers.add(EVENTS_STREAM, config);
  const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM, name);
  const stopping = new AbortController();
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 10 });

  const announce = async (announcement: Announcement) => {
    await Promise.all(
      webhooks
        .filter((webhook) => wants(webhook, announcement))
        .map(async (webhook) => {
          const result = await postWebhook(webhook.url, webhookBody(webhook, announcement), { timeoutMs: webhook.timeoutMs, retries: webhook.retries, retryDelayMs: webhook.retryDelayMs, signal: stopping.signal });
          const fields = { webhook: webhook.name, kind: announcement.kind, rollout: announcement.rollout, attempts: result.attempts, status: result.status };
          if (result.ok) logger.debug(fields, "announcement posted");
          else logger.warn({ ...fields, error: result.error }, "announcement not delivered; the rollout goes on");
        }),
    );
  };

  const loop = (async () => {
    for await (const message of messages) {
      let event: RolloutEvent | undefined;
      try {
        event = decodeJson<RolloutEvent>(message.data);
      } catch (err) {
        logger.warn({ err, seq: message.seq }, "unreadable rollout event; not announced");
      }
      const announcement = event ? classifyEvent(event) : undefined;
      if (announcement) await announce(announcement);
      // Stopped in the middle: leave the event unacked, so the next coordinator announces it.
      if (stopping.signal.aborted) break;
      message.ack();
    }
  })().catch((err: unknown) => logger.error({ err }, "the announcer stopped reading rollout events"));

  logger.info({ webhooks: webhooks.map((webhook) => webhook.name) }, "announcing rollout events");
  return {
    async stop() {
      stopping.abort();
      await messages.close().catch(() => undefined);
      await loop;
    },
  };
}
