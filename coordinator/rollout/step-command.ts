import type { HopMode } from "../plan/hop-strategy.ts";
import type { NodeStep, Track } from "./node-steps.ts";
import { stepKey, type RolloutPlannedHop, type RolloutState } from "./state.ts";

/** One command to one node's agent. The key is the idempotency key the agent records the outcome under. */
export interface StepCommand {
  key: string;
  rollout: string;
  cluster: string;
  service: string;
  node: string;
  hop: number;
  step: NodeStep;
  track: Track;
  attempt: number;
  /** The hop's versions: forward goes from -> to; recover and revert go back to `from`. */
  from: string;
  to: string;
  mode: HopMode;
  downgrade: boolean;
  /** The release to stage. */
  artifact: RolloutPlannedHop["artifact"];
  /** The hop's migrations as the coordinator's catalog lists them (sent with the upgrade). */
  migrations: RolloutPlannedHop["migrations"];
  /** Full-stop: the node that upgrades alone first (and runs the cluster-once migrations). */
  leader: boolean;
  /** The health gate of verify (and of the agent's own verify inside upgrade and rollback). */
  minHealthyMs: number;
  healthyDeadlineMs: number;
  sentAt: number;
  /** Past this without an answer the step is timed out (decideNext returns `expire`). */
  deadlineAt: number;
}

/**
 * The command for `step` of a node in a hop, sent at `now`: its key, the hop's release and gate, its
 * deadline; with `recorded`, the key and deadline of a step already in flight (not worked out again).
 */
export function stepCommand(rollout: RolloutState, ref: { hop: number; node: string }, step: NodeStep, track: Track, attempt: number, now: number, recorded?: { key: string; deadlineAt: number }): StepCommand {
  const plan = rollout.plan.hops[ref.hop]!;
  const { strategy } = rollout;
  return {
    key: recorded?.key ?? stepKey({ rollout: rollout.id, node: ref.node, hop: ref.hop, step, track, attempt }),
    rollout: rollout.id,
    cluster: rollout.cluster,
    service: rollout.service,
    node: ref.node,
    hop: ref.hop,
    step,
    track,
    attempt,
    from: plan.from,
    to: plan.to,
    mode: plan.mode,
    downgrade: plan.downgrade,
    artifact: plan.artifact,
    migrations: plan.migrations,
    leader: plan.mode === "full-stop" && plan.batches[0]?.[0] === ref.node,
    minHealthyMs: strategy.minHealthyMs,
    healthyDeadlineMs: strategy.healthyDeadlineMs,
    sentAt: now,
    deadlineAt: recorded?.deadlineAt ?? now + stepDeadlineMs(rollout, step),
  };
}

/**
 * How long the verify step may stay unanswered beyond the health gate's own deadline: the gate
 * first reads the node's gRPC address from KV and opens its Watch, and its verdict
 * (HEALTH_CHECK_FAILED naming the last status) must reach the state before the step expires,
 * or a flapping release is recorded as a step that got no answer.
 */
export function verifyMarginMs(healthyDeadlineMs: number): number {
  return Math.max(5000, Math.ceil(healthyDeadlineMs / 10));
}

/**
 * How long a step may stay unanswered: for verify, healthyDeadlineMs plus `verifyMarginMs` (the
 * gate ends itself first and reports why); progressDeadlineMs for the rest.
 */
export function stepDeadlineMs(rollout: Pick<RolloutState, "strategy">, step: NodeStep): number {
  const { healthyDeadlineMs, progressDeadlineMs } = rollout.strategy;
  return step === "verify" ? healthyDeadlineMs + verifyMarginMs(healthyDeadlineMs) : progressDeadlineMs;
}
