import * as z from "zod";
import { catalogArtifactSchema, migrationSchema } from "../../shared/catalog/index.ts";
import { versionSchema } from "../../shared/wire/index.ts";

/**
 * A migration as the plan carries it: the catalog's (shared/wire), sent with the hop so agents need
 * not hold the same catalog. `run` and `timeoutMs` are optional only for rollouts recorded by an
 * older coordinator, which left them out; such a hop is sent without its release.
 */
export const plannedMigrationSchema = migrationSchema.extend({
  run: migrationSchema.shape.run.optional(),
  timeoutMs: z.number().int().positive().optional(),
});
export type PlannedMigration = z.output<typeof plannedMigrationSchema>;

/** One N -> N+1 hop of the plan; recorded in the rollout (KV) without `gate`. */
export const plannedHopSchema = z.object({
  index: z.number().int().nonnegative(),
  from: versionSchema,
  to: versionSchema,
  downgrade: z.boolean(),
  minor: z.boolean(),
  mode: z.enum(["rolling", "full-stop"]),
  /** Why rolling or full-stop. */
  reason: z.string(),
  /** The release as the catalog lists it. */
  artifact: catalogArtifactSchema,
  migrations: z.array(plannedMigrationSchema),
  /** Nodes upgraded in this hop, in strategy order. */
  nodes: z.array(z.string()),
  /** Nodes already on `to` when planned (only possible for the first hop); they skip it. */
  alreadyOnTarget: z.array(z.string()),
  /**
   * Rolling: the batches, canaries first. Full-stop: `[[leader], rest]`; the leader upgrades first
   * and runs the cluster-once migrations while every node is stopped.
   */
  batches: z.array(z.array(z.string())),
  canaryBatches: z.number().int().nonnegative(),
  /** patch: a module update (only changed files, reload hook); recorded for the plan's reader. */
  kind: z.enum(["full", "patch"]).optional(),
  /** Releases passed over: their scripts ship in `to`'s package (catalog includesEarlierMigrations). */
  via: z.array(versionSchema).optional(),
  /** The release's notes and their URL, from the catalog. */
  notes: z.string().optional(),
  notesUrl: z.string().optional(),
  /** The rollout starts only with `--confirm` naming `to` (optional for rollouts recorded before it existed). */
  requireConfirm: z.boolean().optional(),
  /** The health gate of the hop, in words. */
  gate: z.string(),
});
export type PlannedHop = z.output<typeof plannedHopSchema>;
