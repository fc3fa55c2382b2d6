import * as z from "zod";
import type { Plan } from "../plan/build-plan.ts";
import { plannedHopSchema as basePlannedHopSchema } from "../plan/planned-hop.ts";
import { strategySchema } from "../plan/strategy.ts";
import { forwardSteps, nodeHopStatusSchema, nodeStepSchema, trackSchema, type NodeStep, type Track } from "./node-steps.ts";

/**
 * The rollout record kept in KV (`hoist_rollouts`, key `CLUSTER.rollout.ID`). It changes only by
 * compare-and-set, and only through the pure folds of fold.ts (foldDecision, foldReport), so a
 * coordinator that takes over reads exactly what the previous one last decided.
 */

/**
 * Phases of a rollout:
 * - pending: created, nothing checked yet.
 * - preflight: the preflight runs (every node answers, is healthy, on the expected version, has disk room).
 * - running: hops and batches are carried out.
 * - paused: an operator paused; work in progress finished, nothing new starts until resume.
 * - waiting-promote: the canaries of the hop are healthy; waiting for `promote`.
 * - reverting: a failure under autoRevert; the hop's upgraded nodes go back batch by batch.
 * - succeeded: every node runs the target. Terminal.
 * - failed: halted after a failure (preflight, node, deadline); see `failure`. Terminal.
 * - aborted: stopped by an operator after the work in progress finished. Terminal.
 * - reverted: a failure under autoRevert, and every upgraded node of the hop went back. Terminal.
 */
export const ROLLOUT_PHASES = ["pending", "preflight", "running", "paused", "waiting-promote", "reverting", "succeeded", "failed", "aborted", "reverted"] as const;
export const rolloutPhaseSchema = z.enum(ROLLOUT_PHASES);
export type RolloutPhase = z.output<typeof rolloutPhaseSchema>;

export const TERMINAL_PHASES: readonly RolloutPhase[] = ["succeeded", "failed", "aborted", "reverted"];

/** True for phases a rollout never leaves. */
export function isTerminal(phase: RolloutPhase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

export const stepErrorSchema = z.object({
  step: nodeStepSchema,
  code: z.string(),
  message: z.string(),
  at: z.number(),
});

/** A step sent to a node and not answered yet. Re-sent with the same key after a takeover. */
export const inFlightStepSchema = z.object({
  step: nodeStepSchema,
  track: trackSchema,
  attempt: z.number().int().positive(),
  key: z.string().min(1),
  sentAt: z.number(),
  /** Past this the step counts as timed out (the node's outcome is unknown). */
  deadlineAt: z.number(),
});

export const nodeHopStateSchema = z.object({
  status: nodeHopStatusSchema,
  track: trackSchema,
  /** 1 for the first try; a retry after a rolled-back failure is a new attempt with new keys. */
  attempt: z.number().int().positive(),
  /** Steps left on the current track, the next first (the one in flight stays first until answered). */
  todo: z.array(nodeStepSchema),
  /** In a full-stop hop: the node already runs `to` and is only stopped and started with the others. */
  onTarget: z.boolean(),
  inFlight: inFlightStepSchema.optional(),
  failures: z.number().int().nonnegative(),
  lastError: stepErrorSchema.optional(),
  doneAt: z.number().optional(),
});

export const controlRequestSchema = z.object({ by: z.string(), at: z.number() });

export const hopProgressSchema = z.object({
  /** Who promoted this hop's canaries, and when. */
  promoted: controlRequestSchema.optional(),
  nodes: z.record(z.string(), nodeHopStateSchema),
});

/** A hop of the plan as the rollout records it: the plan's hop (plan/planned-hop.ts) without its gate in words. */
export const plannedHopSchema = basePlannedHopSchema.omit({ gate: true });

export const plannedNodeSchema = z.object({
  node: z.string(),
  expectedVersion: z.string(),
  requiredBytes: z.number().nonnegative(),
});

export const historyEntrySchema = z.object({
  at: z.number(),
  /** phase, control, node-failed, expired, failure, revert ... */
  event: z.string(),
  from: rolloutPhaseSchema.optional(),
  to: rolloutPhaseSchema.optional(),
  node: z.string().optional(),
  hop: z.number().optional(),
  by: z.string().optional(),
  message: z.string().optional(),
});

export const rolloutStateSchema = z.object({
  schema: z.literal(1),
  id: z.string().min(1),
  cluster: z.string().min(1),
  service: z.string().min(1),
  target: z.string().min(1),
  createdAt: z.number(),
  createdBy: z.string(),
  updatedAt: z.number(),
  strategy: strategySchema,
  plan: z.object({
    allowDowngrade: z.boolean(),
    nodes: z.array(plannedNodeSchema),
    hops: z.array(plannedHopSchema),
  }),
  phase: rolloutPhaseSchema,
  /** The hop being worked on and the batch in it (the revert batch while reverting). */
  cursor: z.object({ hop: z.number().int().nonnegative(), batch: z.number().int().nonnegative() }),
  /** Per hop (same index as plan.hops), per node. */
  hops: z.array(hopProgressSchema),
  /** Node step failures so far; more than strategy.maxFailures halts (or reverts). */
  failures: z.number().int().nonnegative(),
  /** Why the rollout stopped taking new work; set once, never cleared. */
  failure: z.object({ code: z.string(), message: z.string(), at: z.number(), node: z.string().optional(), hop: z.number().optional() }).optional(),
  /** Requests of operators. `pause` stays until a resume clears it. */
  controls: z.object({
    pause: controlRequestSchema.optional(),
    resume: controlRequestSchema.optional(),
    abort: controlRequestSchema.optional(),
    promote: controlRequestSchema.optional(),
  }),
  /** Last time the rollout made progress (a node finished a hop, or running resumed): the progress deadline counts from here. */
  progressAt: z.number(),
  preflight: z.object({ ok: z.boolean(), messages: z.array(z.string()), at: z.number() }).optional(),
  /** The coordinator driving the rollout and its lease epoch: written when a drive starts, which fences out the one before. */
  driver: z.object({ owner: z.string(), epoch: z.number().int().nonnegative(), since: z.number() }).optional(),
  history: z.array(historyEntrySchema),
});

export type StepError = z.output<typeof stepErrorSchema>;
export type InFlightStep = z.output<typeof inFlightStepSchema>;
export type NodeHopState = z.output<typeof nodeHopStateSchema>;
export type ControlRequest = z.output<typeof controlRequestSchema>;
export type HopProgress = z.output<typeof hopProgressSchema>;
export type RolloutPlannedHop = z.output<typeof plannedHopSchema>;
export type HistoryEntry = z.output<typeof historyEntrySchema>;
export type RolloutState = z.output<typeof rolloutStateSchema>;

/**
 * The idempotency key of one step: `rollout/node/hop/step/attempt`, the step prefixed with its track
 * when it is not forward (`recover-rejoin`, `revert-drain`) so the same step on another track never
 * reuses a recorded outcome. Parts are URI-encoded, so a `/` in a name cannot shift them.
 */
export function stepKey(parts: { rollout: string; node: string; hop: number; step: NodeStep; track: Track; attempt: number }): string {
  const step = parts.track === "forward" ? parts.step : `${parts.track}-${parts.step}`;
  return [parts.rollout, parts.node, String(parts.hop), step, String(parts.attempt)].map(encodeURIComponent).join("/");
}

function newNode(mode: "rolling" | "full-stop", onTarget: boolean): NodeHopState {
  return { status: "pending", track: "forward", attempt: 1, todo: forwardSteps(mode, onTarget), onTarget, failures: 0 };
}

const SKIPPED: NodeHopState = { status: "skipped", track: "forward", attempt: 1, todo: [], onTarget: true, failures: 0 };

export interface CreateRolloutInput {
  id: string;
  plan: Plan;
  now: number;
  /** Who started it (operator or coordinator id), for the history. */
  by: string;
}

/**
 * A new rollout record for a plan, phase `pending`. In a rolling hop the nodes already on its
 * target are `skipped`; in a full-stop hop they are stopped and started with the others (so the old
 * and new version never run side by side), unless the hop has no node to upgrade at all.
 */
export function createRollout(input: CreateRolloutInput): RolloutState {
  const { plan, now } = input;
  const hops: HopProgress[] = plan.hops.map((hop) => {
    const nodes: Record<string, NodeHopState> = {};
    for (const node of hop.nodes) nodes[node] = newNode(hop.mode, false);
    for (const node of hop.alreadyOnTarget) {
      nodes[node] = hop.mode === "full-stop" && hop.nodes.length > 0 ? newNode(hop.mode, true) : { ...SKIPPED, todo: [] };
    }
    return { nodes };
  });
  return {
    schema: 1,
    id: input.id,
    cluster: plan.cluster,
    service: plan.service,
    target: plan.target,
    createdAt: now,
    createdBy: input.by,
    updatedAt: now,
    strategy: plan.strategy,
    plan: {
      allowDowngrade: plan.allowDowngrade,
      nodes: plan.nodes.map((node) => ({ node: node.node, expectedVersion: node.expectedVersion, requiredBytes: node.requiredBytes })),
      hops: plan.hops.map((hop) => ({
        index: hop.index,
        from: hop.from,
        to: hop.to,
        downgrade: hop.downgrade,
        minor: hop.minor,
        mode: hop.mode,
        reason: hop.reason,
        artifact: { ...hop.artifact },
        migrations: hop.migrations.map((migration) => ({ ...migration })),
        nodes: [...hop.nodes],
        alreadyOnTarget: [...hop.alreadyOnTarget],
        batches: hop.batches.map((batch) => [...batch]),
        canaryBatches: hop.canaryBatches,
      })),
    },
    phase: "pending",
    cursor: { hop: 0, batch: 0 },
    hops,
    failures: 0,
    controls: {},
    progressAt: now,
    history: [{ at: now, event: "created", to: "pending", by: input.by }],
  };
}
