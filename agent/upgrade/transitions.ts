import { FORWARD_STEPS, ROLLBACK_STEPS, STEPS_AFTER_STOP, type StepName, type TerminalState } from "./steps.ts";

/** Where the machine goes next: another step or a terminal state. */
export type NextState = StepName | TerminalState;

/** What the transition table needs to know of the journal. */
export interface MachineView {
  step: StepName;
  /** Whether the stop step has started (the old release may no longer be running). */
  stopped: boolean;
}

export function isTerminal(state: NextState): state is TerminalState {
  return state === "committed" || state === "rolled-back" || state === "aborted" || state === "failed";
}

export function isRollbackStep(step: StepName): boolean {
  return (ROLLBACK_STEPS as readonly string[]).includes(step);
}

/**
 * The transition table of one node's upgrade (pure). After a step succeeds the next step follows;
 * after a failure:
 * - stage: aborted (nothing changed);
 * - drain: rb-rejoin, then aborted (the service never stopped);
 * - stop .. rejoin: the rollback from rb-stop;
 * - any rollback step: failed (the node needs an operator; `hoist rollback` retries).
 */
export function nextAfterStep(view: MachineView, ok: boolean): NextState {
  const { step } = view;
  if (isRollbackStep(step)) {
    if (!ok) return "failed";
    const index = ROLLBACK_STEPS.indexOf(step as (typeof ROLLBACK_STEPS)[number]);
    const next = ROLLBACK_STEPS[index + 1];
    if (next) return next;
    return view.stopped ? "rolled-back" : "aborted";
  }
  if (ok) {
    const index = FORWARD_STEPS.indexOf(step as (typeof FORWARD_STEPS)[number]);
    return FORWARD_STEPS[index + 1] ?? "committed";
  }
  if (step === "stage") return "aborted";
  if (step === "drain") return "rb-rejoin";
  if (step === "commit") return "committed";
  if (STEPS_AFTER_STOP.includes(step)) return "rb-stop";
  return "failed";
}

/**
 * What an agent does with a journal it finds at start (pure). The step to look at is the one that was
 * interrupted, or the one after it when it had finished. A step before the service stopped is run
 * (stage and drain are idempotent), a commit is finished, anything between stop and commit is rolled
 * back (the new release was never proven healthy), and a rollback step is run (again) and the rollback
 * carried on. After `maxResumes` restarts inside one operation the loop breaker fails it instead.
 */
export function nextOnResume(view: MachineView & { resumes: number; stepStatus: "started" | "done" }, maxResumes: number): NextState | "crash-loop" {
  if (view.resumes >= maxResumes) return "crash-loop";
  const next = view.stepStatus === "done" ? nextAfterStep(view, true) : view.step;
  if (isTerminal(next) || isRollbackStep(next)) return next;
  if (next === "stage" || next === "drain" || next === "commit") return next;
  if (next === "stop" && !view.stopped) return "stop";
  return "rb-stop";
}
