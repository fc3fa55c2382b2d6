import * as z from "zod";

/**
 * What an announcement is about:
 * - started: the rollout began (its preflight runs);
 * - node-out-of-service: a node was drained (rolling) or stopped (full-stop) for its upgrade;
 * - failed: a node's step failed, or the rollout halted failed;
 * - rolled-back: a node went back to the version it ran (the agent's own rollback or the coordinator's), or the rollout ended reverted;
 * - finished: the rollout ended succeeded or aborted.
 */
export const ANNOUNCEMENT_KINDS = ["started", "node-out-of-service", "failed", "rolled-back", "finished"] as const;
export const announcementKindSchema = z.enum(ANNOUNCEMENT_KINDS);
export type AnnouncementKind = z.output<typeof announcementKindSchema>;

/**
 * One webhook the coordinator posts announcements to. The URL of an incoming webhook is a secret
 * (anyone holding it may post): give it in `urlFile` to keep it out of the config; it is never logged.
 */
export const webhookSchema = z
  .object({
    /** Names the webhook in logs (the URL never appears there). */
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . and - only"),
    url: z.url().optional(),
    /** A file holding the URL (read once at start; a relative path resolves against the config file's dir). */
    urlFile: z.string().min(1).optional(),
    /** slack: a Mattermost/Slack incoming-webhook body ({ text, ... }); json: Hoist's own event as JSON. */
    format: z.enum(["slack", "json"]).default("slack"),
    /** Which announcements go to this webhook (default: all). */
    events: z
      .array(announcementKindSchema)
      .min(1)
      .default([...ANNOUNCEMENT_KINDS]),
    /** Only rollouts of these clusters (default: every cluster). */
    clusters: z.array(z.string().min(1)).optional(),
    /** slack format: post to this channel instead of the webhook's own (Mattermost and Slack honour it when the webhook allows). */
    channel: z.string().min(1).optional(),
    /** slack format: the name the post shows (default: the webhook's own). */
    username: z.string().min(1).optional(),
    /** Time for one POST, answer included; then it counts as failed. */
    timeoutMs: z.number().int().positive().default(5000),
    /** Further attempts after a failed POST (network error, timeout, 429 or 5xx); other 4xx answers are not retried. */
    retries: z.number().int().nonnegative().default(3),
    /** Wait before the first retry; doubled before each further one. */
    retryDelayMs: z.number().int().nonnegative().default(1000),
  })
  .strict()
  .refine((webhook) => (webhook.url === undefined) !== (webhook.urlFile === undefined), { message: "give exactly one of url and urlFile" });

export const announceSchema = z
  .object({
    webhooks: z.array(webhookSchema).default([]),
  })
  .strict();

export type WebhookConfig = z.output<typeof webhookSchema>;
export type AnnounceConfig = z.output<typeof announceSchema>;
/** A webhook ready to post to: its URL resolved. */
export type ResolvedWebhook = Omit<WebhookConfig, "url" | "urlFile"> & { url: string };
