import { HoistError } from "../../shared/errors/index.ts";
import { formatMs } from "../../shared/format/index.ts";
import type { Decision } from "./decide.ts";
import { transitionEvent, type RolloutEvent } from "./events.ts";
import { foldStepReport, foldStepReports, type Folded, type StepReport } from "./fold-step.ts";
import { forwardSteps, revertSteps } from "./node-steps.ts";
import { isTerminal, type RolloutState } from "./state.ts";
import { clone, editNode, record, setFailure, setPhase, updateCursor } from "./state-edits.ts";
import type { StepCommand } from "./step-command.ts";
import { currentHop } from "./work.ts";

export type { Folded, StepReport } from "./fold-step.ts";
export { foldStepReports } from "./fold-step.ts";

export type ControlName = "pause" | "resume" | "abort" | "promote";

export type Report =
  | StepReport
  | { kind: "preflight"; ok: boolean; messages: string[]; at: number }
  /** `hop` for promote: which hop's canaries (default: the current hop). */
  | { kind: "control"; control: ControlName; by: string; at: number; hop?: number };

function applyControl(rollout: RolloutState, report: Extract<Report, { kind: "control" }>): RolloutState {
  if (isTerminal(rollout.phase)) return rollout;
  const next = clone(rollout);
  const request = { by: report.by, at: report.at };
  switch (report.control) {
    case "pause":
      next.controls.pause = request;
      break;
    case "resume":
      delete next.controls.pause;
      next.controls.resume = request;
      break;
    case "abort":
      next.controls.abort ??= request;
      break;
    case "promote": {
      next.controls.promote = request;
      const hop = report.hop ?? currentHop(next);
      if (hop < next.hops.length) next.hops[hop]!.promoted ??= request;
      break;
    }
  }
  record(next, { at: report.at, event: report.control, by: report.by, ...(report.control === "promote" ? { hop: report.hop ?? currentHop(next) } : {}) });
  next.updatedAt = report.at;
  return next;
}

/**
 * Folds one report into the state. Pure. A step report goes through the failure policy
 * (foldStepReport, fold-step.ts) and has a step event; a step report whose key is not in flight (a
 * repeat reply, or the reply to a step already timed out) changes nothing. Controls are recorded as
 * requests; decideNext acts on them. The preflight result is stored for decideNext while the phase
 * is preflight. Controls and preflight results have no event of their own.
 */
export function foldReport(rollout: RolloutState, report: Report): Folded {
  switch (report.kind) {
    case "step":
      return foldStepReport(rollout, report);
    case "control":
      return { state: applyControl(rollout, report), events: [] };
    case "preflight": {
      if (rollout.phase !== "preflight") return { state: rollout, events: [] };
      const next = clone(rollout);
      next.preflight = { ok: report.ok, messages: [...report.messages], at: report.at };
      record(next, { at: report.at, event: "preflight", message: report.ok ? "ok" : report.messages.join("; ") });
      next.updatedAt = report.at;
      return { state: next, events: [] };
    }
  }
}

function markInFlight(rollout: RolloutState, step: StepCommand): void {
  if (!rollout.hops[step.hop]?.nodes[step.node]) throw new HoistError("INTERNAL", `rollout ${rollout.id} has no node ${step.node} in hop ${step.hop}`);
  const state = editNode(rollout, step.hop, step.node);
  if (state.inFlight) throw new HoistError("INTERNAL", `node ${step.node} already has ${state.inFlight.step} in flight (${state.inFlight.key})`);
  if (step.track !== state.track || step.attempt !== state.attempt) {
    const mode = rollout.plan.hops[step.hop]!.mode;
    state.track = step.track;
    state.attempt = step.attempt;
    state.todo = step.track === "revert" ? revertSteps() : forwardSteps(mode, state.onTarget);
    state.status = step.track === "revert" ? "reverting" : "pending";
    if (step.track === "revert") record(rollout, { at: step.sentAt, event: "revert", node: step.node, hop: step.hop });
  }
  if (state.todo[0] !== step.step) {
    throw new HoistError("INTERNAL", `node ${step.node} is not due for ${step.step} (next: ${state.todo[0] ?? "nothing"})`);
  }
  state.inFlight = { step: step.step, track: step.track, attempt: step.attempt, key: step.key, sentAt: step.sentAt, deadlineAt: step.deadlineAt };
}

/**
 * Folds a decision into the state before it is carried out (the journal is written before the step):
 * `send` marks each command in flight under its key (and starts a retry or a revert on the node);
 * `preflight` enters the preflight phase; `expire` folds each step as timed out; `fail` records the
 * failure; `set-phase` and `finish` move the phase. `wait` and `none` return the state unchanged.
 * Every decision but `send`, `wait` and `none` has one transition event, in the phase it leads to.
 * Throws INTERNAL when a command does not fit the state (a bug, or a decision from an older state).
 */
export function foldDecision(rollout: RolloutState, decision: Decision, now: number): Folded {
  switch (decision.kind) {
    case "wait":
    case "none":
      return { state: rollout, events: [] };
    case "expire": {
      const next = foldStepReports(
        rollout,
        decision.commands.map((step) => ({
          kind: "step" as const,
          key: step.key,
          outcome: "timed-out" as const,
          error: { code: "TIMEOUT", message: `${step.step} on node ${step.node} got no answer within ${formatMs(step.deadlineAt - step.sentAt)}` },
          at: now,
        })),
      ).state;
      return { state: next, events: [transitionEvent(next, `${decision.commands.length} step(s) timed out`, now)] };
    }
    default:
      break;
  }
  const next = clone(rollout);
  let message: string | undefined;
  switch (decision.kind) {
    case "preflight":
      setPhase(next, "preflight", now, "checking every node");
      delete next.preflight;
      message = "preflight started";
      break;
    case "send":
      for (const step of decision.commands) markInFlight(next, step);
      break;
    case "fail":
      setFailure(next, { code: decision.code, message: decision.message, at: now });
      message = decision.message;
      break;
    case "set-phase":
      if (decision.phase === "running") next.progressAt = now;
      setPhase(next, decision.phase, now, decision.reason);
      message = decision.reason;
      break;
    case "finish":
      setPhase(next, decision.phase, now, decision.reason);
      message = decision.reason;
      break;
  }
  updateCursor(next);
  next.updatedAt = now;
  const events: RolloutEvent[] = message === undefined ? [] : [transitionEvent(next, message, now)];
  return { state: next, events };
}
