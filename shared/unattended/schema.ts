import * as z from "zod";
import { serviceNameSchema, versionSchema } from "../wire/index.ts";
import { durationSchema } from "./duration.ts";

/** A node or cluster id: one NATS subject token (as the agent config has them). */
const tokenSchema = z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only (a NATS subject token)");

export const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** An IANA time zone Intl knows (Europe/Berlin, UTC, America/New_York). */
const timeZoneSchema = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, "must be an IANA time zone such as UTC or Europe/Berlin");

/**
 * A maintenance window: opens on `days` at `start` (wall clock in `timezone`) for `duration`; no
 * node starts in the last `cutoff` of it (SSM's Cutoff), so an upgrade begun late still ends inside.
 */
export const windowSchema = z
  .object({
    days: z.array(z.union([z.enum(WEEKDAYS), z.literal("*")])).min(1),
    start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, "must be HH:MM or HH:MM:SS (24 h)"),
    duration: durationSchema.refine((ms) => ms > 0 && ms <= 7 * 86_400_000, "must be more than 0 and at most 7d"),
    timezone: timeZoneSchema.default("UTC"),
    cutoff: durationSchema.default(0),
  })
  .strict()
  .superRefine((window, ctx) => {
    if (window.cutoff >= window.duration) ctx.addIssue({ code: "custom", path: ["cutoff"], message: "must be shorter than the window's duration (no node could ever start)" });
  });
export type MaintenanceWindow = z.output<typeof windowSchema>;

/** `3` nodes or `25%` of the wave's nodes (rounded down, at least 1). */
const inFlightSchema = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d{1,3}%$/, "must be a count such as 2 or a percentage such as 25%")
    .refine((value) => Number(value.slice(0, -1)) >= 1 && Number(value.slice(0, -1)) <= 100, "percentage must be 1% to 100%"),
]);

/** Which nodes a wave takes: those whose agent labels all match, a sample spread across label values, or (left out) every node no earlier wave took. */
export const selectorSchema = z.union([
  z.object({ labels: z.record(z.string(), z.string()) }).strict(),
  z.object({ sample: z.object({ count: z.number().int().positive(), spreadBy: z.array(z.string().min(1)).default([]) }).strict() }).strict(),
]);
export type WaveSelector = z.output<typeof selectorSchema>;

export const waveSchema = z
  .object({
    name: tokenSchema,
    select: selectorSchema.optional(),
    window: windowSchema.optional(),
    maxInFlight: inFlightSchema.default(1),
    /** How long a node must stay healthy on the target before its slot is freed. */
    minHealthy: durationSchema.default(0),
    /** How long after this wave completed the next wave may start. */
    soakAfter: durationSchema.default(0),
  })
  .strict();
export type Wave = z.output<typeof waveSchema>;

export const LATE_ARRIVER_POLICIES = ["next-window", "immediately", "never"] as const;

/**
 * The desired state of one service in one cluster, as `hoist unattended set -f` reads it. Agents
 * bring every node there by themselves; `decideUnattended` says when each node may go.
 */
export const desiredRolloutSchema = z
  .object({
    kind: z.literal("UnattendedRollout").default("UnattendedRollout"),
    cluster: tokenSchema,
    service: serviceNameSchema,
    /** The version to run, or `channel` naming it (set with `hoist unattended channel`). */
    target: versionSchema.optional(),
    channel: tokenSchema.optional(),
    /** enabled: agents go; suspended: no node starts (same as `hoist unattended suspend`). */
    mode: z.enum(["enabled", "suspended"]).default("enabled"),
    waves: z.array(waveSchema).min(1),
    failureBudget: z
      .object({
        /** The rollout suspends once this many nodes failed (or went silent holding a slot). */
        maxFailed: z.number().int().positive().default(1),
        /** ... or once this share of the rollout's nodes did, whichever comes first. */
        maxFailedPercent: z.number().positive().max(100).optional(),
      })
      .strict()
      .default({ maxFailed: 1 }),
    /** A version that failed health or migration on this many distinct nodes is quarantined: no node starts it again. */
    quarantineAfter: z.number().int().positive().default(1),
    /** A slot holder (or node) silent this long is charged to the failure budget; its slot stays taken. */
    unknownAfter: durationSchema.default(600_000),
    lateArrivers: z
      .object({
        /** A node that was offline while its wave ran: next-window (default), immediately, or never. */
        policy: z.enum(LATE_ARRIVER_POLICIES).default("next-window"),
        /** After this (ISO time, or a duration from when the document was set) a late arriver goes in any window. */
        mustBy: z.union([z.iso.datetime({ offset: true }), durationSchema]).optional(),
      })
      .strict()
      .default({ policy: "next-window" }),
  })
  .strict()
  .superRefine((doc, ctx) => {
    if ((doc.target === undefined) === (doc.channel === undefined)) ctx.addIssue({ code: "custom", path: ["target"], message: "give exactly one of target (a version) or channel" });
    const names = new Set<string>();
    doc.waves.forEach((wave, index) => {
      if (names.has(wave.name)) ctx.addIssue({ code: "custom", path: ["waves", index, "name"], message: `wave ${wave.name} is named twice` });
      names.add(wave.name);
    });
  });
export type DesiredRollout = z.output<typeof desiredRolloutSchema>;
export type DesiredRolloutInput = z.input<typeof desiredRolloutSchema>;
