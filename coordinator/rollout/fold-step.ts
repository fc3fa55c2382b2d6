import { stepEvent, type RolloutEvent } from "./events.ts";
import { FORWARD_POSITION, recoverySteps, type NodeHopStatus, type NodeStep } from "./node-steps.ts";
import type { StepOutcome } from "./outcomes.ts";
import type { NodeHopState, RolloutState } from "./state.ts";
import { clone, editNode, record, setFailure, updateCursor } from "./state-edits.ts";
import { hasBegun, nodesOf, type NodeRef } from "./work.ts";

/** A fold's result: the new state (the same object when nothing changed) and the events to publish once it is saved. */
export interface Folded {
  state: RolloutState;
  events: RolloutEvent[];
}

/** One step's reply (or its expiry) as folded into the state. */
export interface StepReport {
  kind: "step";
  key: string;
  outcome: StepOutcome;
  error?: { code: string; message: string };
  at: number;
}

/** Where a failed forward step leaves the node: as before it (rolled back), broken, or the worst case. */
function positionAfterFailure(step: NodeStep, outcome: StepOutcome, before: NodeHopStatus): NodeHopStatus {
  if (outcome === "rolled-back" || step === "verify") return before;
  if (outcome === "failed" && step === "upgrade") return "failed";
  return FORWARD_POSITION[step];
}

function settle(rollout: RolloutState, ref: { hop: number; node: string }, state: NodeHopState, at: number): void {
  state.todo = [];
  if (state.track === "forward") {
    state.status = "done";
    state.doneAt = at;
    rollout.progressAt = Math.max(rollout.progressAt, at);
  } else if (state.track === "recover") {
    state.status = "rolled-back";
  } else {
    state.status = "reverted";
    record(rollout, { at, event: "reverted", node: ref.node, hop: ref.hop });
  }
}

/** Puts a node on the recover track from where it stands; settles it at once when nothing is to undo. */
function startRecovery(rollout: RolloutState, ref: { hop: number; node: string }, state: NodeHopState, at: number): void {
  const plan = rollout.plan.hops[ref.hop]!;
  state.track = "recover";
  if (state.inFlight) {
    state.todo = [];
    return;
  }
  state.todo = recoverySteps(plan.mode, state.status, state.onTarget);
  if (state.todo.length === 0) settle(rollout, ref, state, at);
  else state.status = "recovering";
}

function failNode(rollout: RolloutState, ref: { hop: number; node: string }, state: NodeHopState, step: NodeStep, error: { code: string; message: string }, at: number): void {
  state.status = "failed";
  state.todo = [];
  setFailure(rollout, {
    code: error.code,
    message: `node ${ref.node} could not be restored after ${step} failed (${error.message}); it needs an operator`,
    at,
    node: ref.node,
    hop: ref.hop,
  });
}

/**
 * The node whose step in flight has `key`: found from the key's own parts (stepKey: rollout, node,
 * hop, ...), so a report costs the same whatever the fleet's size; a key naming no node of the
 * rollout is looked for among all nodes.
 */
function inFlightByKey(rollout: RolloutState, key: string): NodeRef | undefined {
  const [, node, hop] = key.split("/").map((part) => decodeURIComponent(part));
  const hopIndex = Number(hop);
  const state = node === undefined || !Number.isInteger(hopIndex) ? undefined : rollout.hops[hopIndex]?.nodes[node];
  if (state) return state.inFlight?.key === key ? { hop: hopIndex, node: node!, state } : undefined;
  for (let index = 0; index < rollout.hops.length; index++) {
    for (const ref of nodesOf(rollout, index)) if (ref.state.inFlight?.key === key) return ref;
  }
  return undefined;
}

/**
 * Folds one step's reply into the state: the failure policy. A report whose key is not in flight (a
 * repeat reply, or the reply to a step already timed out) changes nothing and has no event.
 *
 * A failed forward step counts against maxFailures and puts the node on the recover track from
 * where it stands (rolled back by the agent: only rejoin; upgraded: roll back, rejoin, verify). In a
 * full-stop hop whose downtime began, every node recovers. A failed upgrade (the agent could not
 * restore) or any failed recover or revert step leaves the node `failed` and halts the rollout.
 */
export function foldStepReport(rollout: RolloutState, report: StepReport): Folded {
  return foldStepReports(rollout, [report]);
}

/**
 * Folds several step replies at once, in order: the same state and events as folding them one by
 * one (foldStepReport), for the cost of one copy of the rollout and one cursor update, so a burst
 * of N results that arrived together costs O(N) and not O(N) per result (issue 14). One exception:
 * when the last revert work of a hop ends inside the group, the cursor (shown by status, not read
 * by the decider) keeps the batch it had before the group rather than one reached in between.
 */
export function foldStepReports(rollout: RolloutState, reports: readonly StepReport[]): Folded {
  let next: RolloutState | undefined;
  const events: RolloutEvent[] = [];
  for (const report of reports) {
    const found = inFlightByKey(next ?? rollout, report.key);
    if (!found) continue;
    next ??= clone(rollout);
    events.push(applyStepReport(next, { hop: found.hop, node: found.node }, report));
  }
  if (!next) return { state: rollout, events: [] };
  updateCursor(next);
  return { state: next, events };
}

/** Applies one report to a copy made by clone (its node has the report's key in flight); the cursor is left to the caller. */
function applyStepReport(next: RolloutState, ref: { hop: number; node: string }, report: StepReport): RolloutEvent {
  const state = editNode(next, ref.hop, ref.node);
  const plan = next.plan.hops[ref.hop]!;
  const flight = state.inFlight!;
  delete state.inFlight;
  const switched = flight.track !== state.track;
  next.updatedAt = report.at;

  if (report.outcome === "ok") {
    if (switched) {
      // A forward step answered after the whole full-stop hop turned to recovery: take its effect, then recover.
      state.status = FORWARD_POSITION[flight.step];
      state.todo = recoverySteps(plan.mode, state.status, state.onTarget);
      if (state.todo.length === 0) settle(next, ref, state, report.at);
      else state.status = "recovering";
    } else {
      state.todo.shift();
      if (state.track === "forward" && state.todo.length > 0) state.status = FORWARD_POSITION[flight.step];
      if (state.todo.length === 0) settle(next, ref, state, report.at);
    }
    return stepEvent(next, { node: ref.node, key: flight.key, step: flight.step, outcome: report.outcome }, report.at);
  }

  const error = report.error ?? { code: report.outcome === "timed-out" ? "TIMEOUT" : "INTERNAL", message: `${flight.step} ${report.outcome}` };
  next.failures += 1;
  state.failures += 1;
  state.lastError = { step: flight.step, code: error.code, message: error.message, at: report.at };
  record(next, { at: report.at, event: "node-failed", node: ref.node, hop: ref.hop, message: `${flight.track === "forward" ? "" : `${flight.track} `}${flight.step} ${report.outcome}: ${error.message}` });

  if (flight.track !== "forward") {
    failNode(next, ref, state, flight.step, error, report.at);
  } else {
    const position = positionAfterFailure(flight.step, report.outcome, state.status);
    if (position === "failed") {
      failNode(next, ref, state, flight.step, error, report.at);
    } else {
      state.status = position;
      if (next.failures > next.strategy.maxFailures) {
        setFailure(next, {
          code: error.code,
          message: `${flight.step} failed on node ${ref.node} (${error.message}); ${next.failures} failure${next.failures === 1 ? "" : "s"}, maxFailures is ${next.strategy.maxFailures}`,
          at: report.at,
          node: ref.node,
          hop: ref.hop,
        });
      }
      state.track = "recover";
      state.todo = recoverySteps(plan.mode, position, state.onTarget);
      if (state.todo.length === 0) settle(next, ref, state, report.at);
      else state.status = "recovering";
    }
    // A full-stop hop whose downtime began goes back as a whole; a node already in that recovery has nothing to add.
    if (!switched && plan.mode === "full-stop") recoverWholeHop(next, ref.hop, report.at);
  }
  const reported = report.error ? { error: report.error } : {};
  return stepEvent(next, { node: ref.node, key: flight.key, step: flight.step, outcome: report.outcome, ...reported }, report.at);
}

/** A full-stop hop failed during its downtime: every node goes back to `from` (and is started again). */
function recoverWholeHop(rollout: RolloutState, hop: number, at: number): void {
  const anyDowntime = Object.values(rollout.hops[hop]!.nodes).some((state) => hasBegun(state) || (state.track === "recover" && state.todo.length > 0));
  if (!anyDowntime) return;
  for (const ref of nodesOf(rollout, hop)) {
    const state = ref.state;
    if (state.track !== "forward" || state.status === "failed" || state.status === "skipped" || state.status === "rolled-back") continue;
    startRecovery(rollout, ref, editNode(rollout, ref.hop, ref.node), at);
  }
  record(rollout, { at, event: "hop-recovery", hop, message: `hop ${rollout.plan.hops[hop]!.from} -> ${rollout.plan.hops[hop]!.to} goes back to ${rollout.plan.hops[hop]!.from} on every node` });
}
