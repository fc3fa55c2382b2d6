import { ROLLBACK_STEPS, STEPS_AFTER_STOP, forwardOrder, type SnapshotBefore, type StepName, type TerminalState } from "./steps.ts";

/** Where the machine goes next: another step or a terminal state. */
export type NextState = StepName | TerminalState;

/** What the transition table needs to know of the journal. */
export interface MachineView {
  step: StepName;
  /**
   * Whether the service may be down: the stop step has started, or a failed drain left it not
   * serving (the old release may no longer be running; a failure now needs the rollback).
   */
  stopped: boolean;
  /** When the snapshot is taken (default stop). */
  snapshotBefore?: SnapshotBefore;
  /** The upgrade has `before-stop` migrations: the migrate-online step runs between drain and stop. */
  onlineMigrations?: boolean;
  /** The service validates the new release on scratch data (the validate step runs after stage). */
  validate?: boolean;
  /** A patch operation (stage, patch, commit). */
  patch?: boolean;
  /** A failed patch step put the old files back and reloaded them. */
  patchUndone?: boolean;
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
 * - stage, validate, or a snapshot taken before the drain: aborted (nothing changed);
 * - patch: rolled-back when it put the old files back and reloaded them, else failed;
 * - migrate-online: rb-rejoin, then aborted: the old release still runs (what the migration changed
 *   stays; an online migration must be compatible with the old release);
 * - drain: rb-rejoin, then aborted, while the service still serves; when the failed drain left it
 *   down (`stopped` set by the drain step), the whole rollback: stop, restore, start, verify, rejoin;
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
    const order = forwardOrder(view.snapshotBefore, view.onlineMigrations, view.validate, view.patch);
    const index = order.indexOf(step as (typeof order)[number]);
    return order[index + 1] ?? "committed";
  }
  if (step === "stage" || step === "validate") return "aborted";
  if (step === "patch") return view.patchUndone ? "rolled-back" : "failed";
  if (step === "drain") return view.stopped ? "rb-stop" : "rb-rejoin";
  if (step === "migrate-online") return "rb-rejoin";
  if (step === "snapshot" && !view.stopped) return "aborted";
  if (step === "commit") return "committed";
  if (STEPS_AFTER_STOP.includes(step)) return "rb-stop";
  return "failed";
}

/**
 * What an agent does with a journal it finds at start (pure). The step to look at is the one that was
 * interrupted, or the one after it when it had finished. A step before the service stopped is run
 * (stage and drain are idempotent), a commit is finished, anything between stop and commit is rolled
 * back (the new release was never proven healthy), and a rollback step is run (again) and the rollback
 * carried on. Every forward step before the stop (stage, drain, a snapshot taken before the drain)
 * is run again: the service never stopped. After `maxResumes` restarts inside one operation the loop breaker fails it instead.
 */
export function nextOnResume(view: MachineView & { resumes: number; stepStatus: "started" | "done" }, maxResumes: number): NextState | "crash-loop" {
  if (view.resumes >= maxResumes) return "crash-loop";
  const next = view.stepStatus === "done" ? nextAfterStep(view, true) : view.step;
  if (isTerminal(next) || isRollbackStep(next)) return next;
  if (next === "commit" || !view.stopped) return next;
  return "rb-stop";
}
