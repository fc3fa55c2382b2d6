import * as z from "zod";
import type { HopMode } from "../plan/hop-strategy.ts";

/**
 * The coordinator's step vocabulary for one node in one hop, and every order over it: which steps
 * a node goes through going forward, recovering and reverting, in what order the nodes of a
 * full-stop hop take them, and where each step leaves the node. The agent has its own, finer
 * vocabulary inside `upgrade` (docs/architecture.md puts the two side by side).
 */

/**
 * Steps the coordinator asks of one node's agent, each carrying its own idempotency key:
 * - stage: fetch, check and unpack the release beside the active one (no downtime);
 * - drain / rejoin: leave / join the cluster (rolling hops; the agent's upgrade skips its own);
 * - stop / start: stop / start the service (full-stop hops);
 * - upgrade: snapshot, switch, migrate (and start) on the agent; it rolls itself back on failure;
 * - rollback: undo this hop's committed upgrade on the node (restore snapshot, switch back, start);
 * - verify: the health gate: the agent's grpc.health.v1 Watch SERVING for minHealthyMs within
 *   healthyDeadlineMs (not the agent's probes, which run inside its own upgrade).
 */
export const NODE_STEPS = ["stage", "drain", "stop", "upgrade", "rollback", "start", "rejoin", "verify"] as const;
export const nodeStepSchema = z.enum(NODE_STEPS);
export type NodeStep = z.output<typeof nodeStepSchema>;

/**
 * What a node is doing in a hop:
 * - forward: going from the hop's `from` to its `to`;
 * - recover: a step failed; going back to `from` (then retried while the failure budget lasts);
 * - revert: autoRevert takes a finished node back to `from` after the rollout failed.
 */
export const TRACKS = ["forward", "recover", "revert"] as const;
export const trackSchema = z.enum(TRACKS);
export type Track = z.output<typeof trackSchema>;

/**
 * Where a node stands in one hop (the step in flight, if any, is in the node's `inFlight`):
 * - pending: on `from`, nothing done yet for this hop (or for this attempt).
 * - staged: the release is unpacked beside the active one; still serving `from`.
 * - drained: out of the cluster, still on `from` (rolling).
 * - stopped: the service is stopped (full-stop).
 * - upgraded: the agent committed `to`; not back in service yet.
 * - started: running `to`, not yet proven healthy (full-stop).
 * - rejoined: back in the cluster on `to`, not yet proven healthy (rolling).
 * - done: on `to` and healthy for minHealthyMs: the hop is done for this node; never scheduled again.
 * - skipped: already on `to` when the rollout was planned; nothing to do.
 * - recovering: a step failed; the node is walking back to `from`.
 * - rolled-back: back on `from` and serving after a failure; retried with a new attempt if allowed.
 * - reverting: autoRevert is taking the node back to `from`.
 * - reverted: back on `from` after autoRevert.
 * - failed: could not be restored, or its agent stopped answering: an operator must look.
 */
export const NODE_HOP_STATUSES = ["pending", "staged", "drained", "stopped", "upgraded", "started", "rejoined", "done", "skipped", "recovering", "rolled-back", "reverting", "reverted", "failed"] as const;
export const nodeHopStatusSchema = z.enum(NODE_HOP_STATUSES);
export type NodeHopStatus = z.output<typeof nodeHopStatusSchema>;

/** The steps of a node going forward through a hop. */
export function forwardSteps(mode: HopMode, onTarget = false): NodeStep[] {
  if (mode === "rolling") return ["stage", "drain", "upgrade", "rejoin", "verify"];
  return onTarget ? ["stop", "start", "verify"] : ["stage", "stop", "upgrade", "start", "verify"];
}

/** The steps of autoRevert for a node that finished a rolling hop. */
export function revertSteps(): NodeStep[] {
  return ["drain", "rollback", "rejoin", "verify"];
}

/**
 * The steps that bring a node back to its hop's `from` and into service, from where it stands.
 * Rolling: undo the upgrade if it happened, then rejoin and pass the health gate. Full-stop (the
 * whole hop goes back): stop what runs `to`, undo the upgrade, start what is stopped, verify.
 */
export function recoverySteps(mode: HopMode, status: NodeHopStatus, onTarget: boolean): NodeStep[] {
  if (mode === "rolling") {
    switch (status) {
      case "drained":
        return ["rejoin", "verify"];
      case "upgraded":
      case "rejoined":
      case "done":
        return ["rollback", "rejoin", "verify"];
      default:
        return [];
    }
  }
  if (onTarget) return status === "stopped" ? ["start", "verify"] : [];
  switch (status) {
    case "stopped":
      return ["start", "verify"];
    case "upgraded":
      return ["rollback", "verify"];
    case "started":
    case "done":
      return ["stop", "rollback", "verify"];
    default:
      return [];
  }
}

/** Order of steps in a full-stop hop: every node finishes one rank before any node starts the next. */
export const FULL_STOP_RANK: Record<NodeStep, number> = { stage: 0, drain: 1, stop: 1, upgrade: 2, rollback: 2, start: 3, rejoin: 3, verify: 4 };

/** Where a forward step leaves the node once done (rollback is never a forward step; listed for completeness). */
export const FORWARD_POSITION: Record<NodeStep, NodeHopStatus> = {
  stage: "staged",
  drain: "drained",
  stop: "stopped",
  upgrade: "upgraded",
  start: "started",
  rejoin: "rejoined",
  verify: "done",
  rollback: "recovering",
};
