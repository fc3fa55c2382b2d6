import type { Announcement } from "./classify.ts";
import type { ResolvedWebhook } from "./webhook-config.ts";

/**
 * The JSON body of one announcement for one webhook (pure):
 * - slack: an incoming-webhook body as Mattermost and Slack take it (`text`, and `channel`/`username` when set);
 * - json: `{ source: "hoist", kind, rollout, cluster, service, to, node, phase, text, event }`.
 */
export function webhookBody(webhook: Pick<ResolvedWebhook, "format" | "channel" | "username">, announcement: Announcement): Record<string, unknown> {
  if (webhook.format === "slack") {
    return {
      text: announcement.text,
      ...(webhook.channel === undefined ? {} : { channel: webhook.channel }),
      ...(webhook.username === undefined ? {} : { username: webhook.username }),
    };
  }
  const { event, ...rest } = announcement;
  return { source: "hoist", ...rest, event };
}
