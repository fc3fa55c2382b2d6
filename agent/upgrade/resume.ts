import type { UpgradeOutcome } from "../node-agent-api.ts";
import type { JournalRecord } from "./journal-record.ts";
import { isRollbackStep, isTerminal, nextOnResume, type NextState } from "./transitions.ts";
import { finishJournal, runJournal, type RunnerDeps } from "./upgrade-runner.ts";

/**
 * Picks up a journal an earlier owner left (it died mid-operation): counts the resume, asks the
 * transition table where to go on, and runs it there; the loop breaker fails it after
 * `maxResumeAttempts`. Returns the outcome, or undefined when the journal is halted (it waits for
 * `hoist rollback`). `track` marks the run as the service's operation in flight.
 */
export async function resumeJournal(
  deps: RunnerDeps,
  record: JournalRecord,
  maxResumeAttempts: number,
  track: (key: string | undefined, run: Promise<UpgradeOutcome>) => Promise<UpgradeOutcome>,
): Promise<UpgradeOutcome | undefined> {
  if (record.halted) return undefined;
  const resumed: JournalRecord = { ...record, resumes: record.resumes + 1 };
  await deps.store.save(resumed);
  const next = nextOnResume(
    {
      step: record.step,
      stepStatus: record.stepStatus,
      stopped: record.stopped,
      resumes: resumed.resumes,
      ...(record.snapshotBefore ? { snapshotBefore: record.snapshotBefore } : {}),
      ...(record.onlineMigrations ? { onlineMigrations: true } : {}),
      ...(record.validate ? { validate: true } : {}),
      ...(record.patch ? { patch: true } : {}),
    },
    maxResumeAttempts,
  );
  deps.logger.warn({ step: record.step, resumes: resumed.resumes, next }, "found an interrupted operation");
  if (next === "crash-loop") {
    const halted: JournalRecord = {
      ...resumed,
      error: resumed.error ?? { code: "CRASH_LOOP", message: `the agent restarted ${resumed.resumes} times inside this operation; stopped retrying`, step: record.step },
      rollbackError: { code: "CRASH_LOOP", message: `the loop breaker stopped after ${resumed.resumes} restarts at ${record.step}`, step: record.step },
    };
    return finishJournal(deps, halted, "failed");
  }
  if (isTerminal(next)) return finishJournal(deps, resumed, next);
  return track(record.key, runJournal(deps, interruptedAt(resumed, next), next));
}

/** A journal about to roll back after a crash remembers why (the agent stopped during its step). */
function interruptedAt(record: JournalRecord, next: NextState): JournalRecord {
  const rollingBack = !isTerminal(next) && isRollbackStep(next) && !isRollbackStep(record.step);
  if (!rollingBack || record.error) return record;
  return { ...record, error: { code: "INTERNAL", message: `the agent stopped during ${record.step}`, step: record.step } };
}
