import * as z from "zod";

/** One batch size: a node count (>= 1) or a percentage of the cluster's node count ("25%"). */
export const batchSizeSchema = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+(\.\d+)?%$/, 'a percentage like "25%"')
    .refine((value) => {
      const percent = Number.parseFloat(value);
      return percent > 0 && percent <= 100;
    }, "a percentage above 0% and at most 100%"),
]);

/**
 * The rollout strategy, with the names users know from Nomad's update block and Ansible's serial.
 * Every field has a default, so `strategySchema.parse({})` is a valid one-node-at-a-time rolling upgrade.
 */
export const strategySchema = z
  .object({
    /**
     * Ansible's `serial`: a batch size, or a list of sizes where the last one repeats
     * (`[1, "25%", "100%"]`). Percentages are of the cluster's node count, rounded down, at least 1.
     */
    batch: z.union([batchSizeSchema, z.array(batchSizeSchema).min(1)]).default(1),
    /** How many nodes go first as canaries (in batches no bigger than the first batch size). */
    canary: z.number().int().nonnegative().default(0),
    /** After the canaries: `pause` waits for `hoist rollout promote`, `auto` goes on once they are healthy. */
    canaryMode: z.enum(["pause", "auto"]).default("pause"),
    /** A node counts as healthy once it has stayed healthy this long (Nomad's min_healthy_time). */
    minHealthyMs: z.number().int().nonnegative().default(10_000),
    /** A node must reach minHealthyMs of health within this long, or it failed (Nomad's healthy_deadline). */
    healthyDeadlineMs: z.number().int().positive().default(300_000),
    /**
     * The rollout fails when no node finishes its hop for this long; also the longest any single step
     * may stay unanswered (Nomad's progress_deadline).
     */
    progressDeadlineMs: z.number().int().positive().default(600_000),
    /** Node failures absorbed by rolling the node back and retrying it; one more halts (or reverts). */
    maxFailures: z.number().int().nonnegative().default(0),
    /** On failure, revert the nodes already upgraded in the failing hop, batch by batch, instead of halting. */
    autoRevert: z.boolean().default(false),
    /** `name` (natural sort), `given` (inventory order) or an explicit list; unlisted nodes follow by name. */
    order: z.union([z.enum(["name", "given"]), z.array(z.string().min(1)).min(1)]).default("name"),
  })
  .strict()
  .refine((strategy) => strategy.minHealthyMs < strategy.healthyDeadlineMs, {
    message: "minHealthyMs must be shorter than healthyDeadlineMs",
    path: ["minHealthyMs"],
  })
  .refine((strategy) => strategy.healthyDeadlineMs <= strategy.progressDeadlineMs, {
    message: "healthyDeadlineMs must not be longer than progressDeadlineMs",
    path: ["healthyDeadlineMs"],
  })
  .refine((strategy) => !Array.isArray(strategy.order) || new Set(strategy.order).size === strategy.order.length, {
    message: "order names a node twice",
    path: ["order"],
  });

export type BatchSize = z.output<typeof batchSizeSchema>;
export type Strategy = z.output<typeof strategySchema>;
export type StrategyInput = z.input<typeof strategySchema>;

/** The default strategy: one node at a time, no canary, Nomad's default deadlines. */
export const DEFAULT_STRATEGY: Strategy = Object.freeze(strategySchema.parse({}));
