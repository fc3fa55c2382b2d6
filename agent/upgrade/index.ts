/** One node's upgrade: the journal, the transition table, the pure deciders and the runner. */
export { FORWARD_STEPS, ROLLBACK_STEPS, forwardOrder, type StepName, type SnapshotBefore, type TerminalState } from "./steps.ts";
export { nextAfterStep, nextOnResume, isRollbackStep, isTerminal, type NextState, type MachineView } from "./transitions.ts";
export { decideUpgrade, decideRollback, type OperationView, type UpgradeDecision, type RollbackDecision } from "./decide-operation.ts";
export type { JournalHop, JournalRecord, JournalEvent } from "./journal-record.ts";
export { JournalStore } from "./journal-store.ts";
export { newJournal, type NewJournalInput } from "./new-journal.ts";
export { planHops } from "./plan-hops.ts";
export { resumeJournal } from "./resume.ts";
export { runJournal, finishJournal, type RunnerDeps } from "./upgrade-runner.ts";
export type { ClusterOnceGate, StepContext } from "./step-context.ts";
export { readFinalizeState, writeFinalizeState, dropPendingFinalize, permanentMigrations, type FinalizeState, type FinalizedUpgrade, type PendingFinalize } from "./finalize-state.ts";
export { applyRetention, neededUntilFinalized } from "./retention.ts";
