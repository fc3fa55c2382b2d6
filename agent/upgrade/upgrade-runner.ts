import type { Logger } from "../../shared/logger/index.ts";
import { throwIfAborted, toHoistError } from "../../shared/errors/index.ts";
import type { ProgressListener } from "../../shared/types/index.ts";
import type { AgentConfig, ServiceConfig } from "../config.ts";
import type { UpgradeOutcome } from "../node-agent-api.ts";
import type { ServicePaths } from "../services/service-paths.ts";
import type { ProcessTracker } from "../exec/index.ts";
import type { PeersInService } from "../services/peer-env.ts";
import type { JournalEvent, JournalRecord } from "./journal-record.ts";
import type { JournalStore } from "./journal-store.ts";
import { STEP_FUNCTIONS, hasDrainHooks, skippedStepReason } from "./step-runners.ts";
import { StepFailure } from "./step-failure.ts";
import { clearDrainSnapshot } from "../services/drain-snapshot.ts";
import { publishOperationEnded, publishStepEnded } from "../metrics/channels.ts";
import type { ClusterOnceGate, StepContext } from "./step-context.ts";
import type { StepName, TerminalState } from "./steps.ts";
import { isRollbackStep, isTerminal, nextAfterStep, type NextState } from "./transitions.ts";

export interface RunnerDeps {
  config: AgentConfig;
  service: ServiceConfig;
  paths: ServicePaths;
  store: JournalStore;
  logger: Logger;
  clusterOnce?: ClusterOnceGate;
  /**
   * Fault injection for crash tests only: `STEP:started` or `STEP:done` makes the process SIGKILL
   * itself right after the journal was saved at that boundary.
   */
  killAt?: string;
  /** The cluster's peers in service, for HOIST_PEERS in hooks. */
  peers?: PeersInService;
  /** Writes down every child process the steps run (the owner's ProcessLedger). */
  track?: (label: string) => ProcessTracker;
  /** Told about every step as it starts (the agent shows it as the service's activity). */
  onStep?: (step: StepName) => void;
}

function event(step: JournalEvent["step"], status: JournalEvent["status"], detail?: string): JournalEvent {
  return { step, status, at: new Date().toISOString(), ...(detail === undefined ? {} : { detail }) };
}

/**
 * Carries one journaled operation to a terminal state: saves the journal before and after each step,
 * runs the step, asks the transition table what comes next. Forward steps honour the caller's signal
 * (a cancel before stop aborts, after stop rolls back); rollback steps ignore it and run to the end.
 */
export async function runJournal(deps: RunnerDeps, initial: JournalRecord, first: NextState, options: { signal?: AbortSignal; onProgress?: ProgressListener } = {}): Promise<UpgradeOutcome> {
  const onProgress = options.onProgress ?? (() => undefined);
  const neverAborted = new AbortController().signal;
  const runtime: StepContext["runtime"] = {};
  let record = initial;
  let state = first;
  try {
    while (!isTerminal(state)) {
      const step: StepName = state;
      const log = deps.logger.child({ step });
      const hasDrainHook = deps.service.hooks.drain !== undefined && hasDrainHooks(record);
      record = {
        ...record,
        step,
        stepStatus: "started",
        stopped: record.stopped || step === "stop",
        drained: record.drained || (step === "drain" && hasDrainHook),
        updatedAt: new Date().toISOString(),
        history: [...record.history, event(step, "started")],
      };
      await deps.store.save(record);
      if (deps.killAt === `${step}:started`) process.kill(process.pid, "SIGKILL");
      deps.onStep?.(step);
      const skipped = skippedStepReason(step, record, deps.service.hooks);
      onProgress({ step, message: skipped === undefined ? `${step} started` : `${step} skipped: ${skipped}` });
      log.info({ from: record.history.at(-2)?.step, to: step, event: "started" }, "step started");
      const signal = isRollbackStep(step) ? neverAborted : (options.signal ?? neverAborted);
      const began = performance.now();
      const ended = (result: "done" | "failed") => publishStepEnded({ cluster: deps.config.cluster, node: deps.config.node, service: deps.service.name, step, result, seconds: (performance.now() - began) / 1000 });
      try {
        throwIfAborted(signal);
        const patch = await STEP_FUNCTIONS[step]({
          config: deps.config,
          service: deps.service,
          paths: deps.paths,
          record,
          signal,
          onProgress,
          logger: log,
          runtime,
          ...(deps.clusterOnce ? { clusterOnce: deps.clusterOnce } : {}),
          ...(deps.track ? { track: deps.track } : {}),
          ...(deps.peers ? { peers: deps.peers } : {}),
        });
        ended("done");
        record = { ...record, ...(patch ?? {}), stepStatus: "done", updatedAt: new Date().toISOString(), history: [...record.history, event(step, "done")] };
        await deps.store.save(record);
        if (deps.killAt === `${step}:done`) process.kill(process.pid, "SIGKILL");
        if (skipped === undefined) onProgress({ step, message: `${step} done` });
        state = nextAfterStep(record, true);
      } catch (err) {
        const error = toHoistError(err);
        ended("failed");
        log.warn({ err: error, code: error.code }, "step failed");
        const failure = { code: error.code, message: error.message, step };
        record = {
          ...record,
          ...(err instanceof StepFailure ? err.patch : {}),
          ...(isRollbackStep(step) ? { rollbackError: failure } : { error: record.error ?? failure }),
          updatedAt: new Date().toISOString(),
          history: [...record.history, event(step, "failed", `${error.code}: ${error.message}`)],
        };
        await deps.store.save(record);
        onProgress({ step, message: `${step} failed: ${error.message}` });
        state = nextAfterStep(record, false);
      }
    }
  } finally {
    // A first snapshot phase that the snapshot step never finished (a failure before it, or this loop throwing).
    await runtime.firstPhase?.discard();
  }
  return finishJournal(deps, record, state);
}

/** Records the outcome (by idempotency key too) and removes the journal: the operation is over. */
export async function finishJournal(deps: RunnerDeps, record: JournalRecord, terminal: TerminalState): Promise<UpgradeOutcome> {
  const failure = record.rollbackError ?? record.error;
  const active = terminal === "committed" ? record.target : terminal === "failed" ? undefined : record.previousVersion;
  const outcome: UpgradeOutcome = {
    result: terminal,
    service: record.service,
    // A rollback goes from the release active when it began (activeBefore) back to previousVersion.
    ...(record.activeBefore !== undefined ? { from: record.activeBefore } : record.previousVersion === undefined ? {} : { from: record.previousVersion }),
    to: record.target,
    ...(active === undefined ? {} : { active }),
    hops: record.hops.map((hop) => ({ from: hop.from, to: hop.to })),
    ...(failure && terminal !== "committed"
      ? {
          error: {
            code: failure.code,
            message: record.rollbackError && record.error ? `${record.error.message}; then the rollback failed at ${record.rollbackError.step}: ${record.rollbackError.message}` : `${failure.step}: ${failure.message}`,
          },
        }
      : {}),
    startedAt: record.startedAt,
    finishedAt: new Date().toISOString(),
    ...(record.snapshotId === undefined ? {} : { snapshotId: record.snapshotId }),
  };
  await deps.store.recordOutcome(outcome, record.key);
  publishOperationEnded({ cluster: deps.config.cluster, node: deps.config.node, service: record.service, kind: record.kind, result: terminal });
  await clearDrainSnapshot(deps.paths);
  if (terminal === "failed") {
    await deps.store.save({ ...record, halted: true, history: [...record.history, event("failed", "info", "halted: run `hoist rollback` to retry")] });
  } else {
    await deps.store.clear();
  }
  deps.logger.info({ from: record.step, to: terminal, event: "finished", result: terminal }, "operation finished");
  return outcome;
}
