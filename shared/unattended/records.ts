import * as z from "zod";
import { versionSchema } from "../wire/index.ts";

/**
 * The records the agents and `hoist unattended` share in KV `hoist_unattended` (keys in keys.ts).
 * Each is validated where it is read: a record that fails is ignored, never trusted.
 */

/** The desired-state document as stored: its canonical JSON text (what a signature covers), and the signature. */
export const storedDesiredSchema = z.object({
  /** The document as canonical JSON; parsed with desiredRolloutSchema by every reader. */
  text: z.string().min(2),
  /** ed25519 signature of `text` (base64), and which key made it (sha256 of the public key, hex, first 16). */
  signature: z.object({ keyId: z.string(), value: z.string() }).optional(),
  setAt: z.number().int(),
});
export type StoredDesired = z.output<typeof storedDesiredSchema>;

/** A failure charged to the budget: a version that failed on a node (health, migration), or a holder that went silent. */
export const failureSchema = z.object({
  node: z.string(),
  version: versionSchema,
  /** version-suspect: failed health or migration after the switch; unknown: the slot holder went silent past unknownAfter. */
  kind: z.enum(["version-suspect", "unknown"]),
  reason: z.string(),
  at: z.number().int(),
});
export type Failure = z.output<typeof failureSchema>;

/** What operators and agents change at run time (one record, changed by compare-and-set). */
export const controlSchema = z.object({
  suspended: z.object({ reason: z.string(), at: z.number().int(), by: z.string() }).optional(),
  quarantined: z.record(z.string(), z.object({ at: z.number().int(), nodes: z.array(z.string()) })).default({}),
  failures: z.array(failureSchema).default([]),
  holds: z.record(z.string(), z.object({ until: z.number().int(), reason: z.string() })).default({}),
  pins: z.record(z.string(), versionSchema).default({}),
  /** `hoist unattended rollback`: the fleet goes back to `to`, waves in reverse order. */
  rollback: z.object({ to: versionSchema, from: versionSchema, at: z.number().int() }).optional(),
  /** Slot releases an operator acknowledged (`release-slot --ack`), newest last. */
  releases: z.array(z.object({ node: z.string(), wave: z.string(), ack: z.string(), at: z.number().int() })).default([]),
});
export type Control = z.output<typeof controlSchema>;

export const NODE_STATES = ["idle", "in-flight", "done", "failed", "backoff", "refused"] as const;

/** One agent's report for one service: what it runs, what it does, why it waits. */
export const nodeReportSchema = z.object({
  node: z.string(),
  labels: z.record(z.string(), z.string()).default({}),
  version: versionSchema.optional(),
  state: z.enum(NODE_STATES),
  /** The decider's reason code (or the refusal's: signature-invalid). */
  reason: z.string(),
  nextEligibleAt: z.number().int().optional(),
  /** The step of the upgrade in flight. */
  step: z.string().optional(),
  seenAt: z.number().int(),
  /** When this node reached the version it runs through an unattended upgrade. */
  reachedAt: z.number().int().optional(),
  /** Durations of this node's unattended upgrades (ms), newest last, a few kept for forecasts. */
  durationsMs: z.array(z.number().nonnegative()).default([]),
  /** Environment failures (fetch, disk): retried after this time, not charged. */
  backoffUntil: z.number().int().optional(),
  backoffAttempts: z.number().int().nonnegative().default(0),
});
export type NodeReport = z.output<typeof nodeReportSchema>;

/** A slot of a wave, taken with create-if-absent, kept fresh by its holder's heartbeat. */
export const slotSchema = z.object({
  node: z.string(),
  wave: z.string(),
  version: versionSchema,
  since: z.number().int(),
  heartbeatAt: z.number().int(),
  step: z.string(),
  /** Set once the holder was silent past unknownAfter: charged to the budget; only release-slot frees it. */
  charged: z.object({ at: z.number().int(), reason: z.string() }).optional(),
});
export type Slot = z.output<typeof slotSchema>;

/**
 * What a notify on `unattendedNotifySubject` says changed. `report` (a node finished or changed
 * state), `taken` (a slot was taken, with its revision) and `freed` (a slot was freed) are deltas an
 * agent applies to the rollout it read last, with no KV read; any other change (desired, control,
 * channel) has no delta and makes it read the rollout again.
 */
export const notifySchema = z.object({
  what: z.string(),
  at: z.number().int(),
  report: nodeReportSchema.optional(),
  taken: slotSchema.extend({ index: z.number().int().nonnegative(), revision: z.number().int().positive() }).optional(),
  /** `revision`: the freed slot's last revision (the delete was conditional on it). */
  freed: z.object({ wave: z.string(), index: z.number().int().nonnegative(), node: z.string().optional(), revision: z.number().int().positive().optional() }).optional(),
});
export type NotifyMessage = z.output<typeof notifySchema>;
export type NotifyDelta = Pick<NotifyMessage, "report" | "taken" | "freed">;
