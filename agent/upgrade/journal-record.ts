import type { Artifact, Migration } from "../../shared/wire/index.ts";
import type { SnapshotBefore, StepName, TerminalState } from "./steps.ts";

/** One hop as the journal keeps it (enough to re-run it after a crash). */
export interface JournalHop {
  from: string;
  to: string;
  artifact: Artifact;
  migrations: Migration[];
  /** A patch hop (catalog `kind: patch`). */
  kind?: "patch";
}

export interface JournalEvent {
  step: StepName | TerminalState | "resume";
  status: "started" | "done" | "failed" | "info";
  at: string;
  detail?: string;
}

/**
 * The crash-safe record of one upgrade or rollback of one service, saved (temp + fsync + rename)
 * before and after every step. Its presence means an operation is in flight.
 */
export interface JournalRecord {
  formatVersion: 1;
  id: string;
  /** Idempotency key of the request that started it. */
  key?: string;
  kind: "upgrade" | "rollback";
  service: string;
  /** Version active before the operation (undefined on a fresh install). */
  previousVersion?: string;
  /** Rollback journals only: the release active when the rollback began (the outcome's `from`). */
  activeBefore?: string;
  /** Version the operation goes to. */
  target: string;
  hops: JournalHop[];
  skipDrain: boolean;
  /** When the snapshot is taken (`snapshots.before` of the service when the operation began; default stop). */
  snapshotBefore?: SnapshotBefore;
  /** Whether the hops have `when: before-stop` migrations (the migrate-online step runs). */
  onlineMigrations?: boolean;
  /** A patch operation: stage, patch (replace changed files, reload, verify; undone on failure), commit. */
  patch?: boolean;
  /** Set by a failed patch step: the old files are back and the old code reloaded (so the outcome is rolled-back, not failed). */
  patchUndone?: boolean;
  /** Whether the validate step runs (the service had `validate` when the operation began). */
  validate?: boolean;
  /** Migration names not to run here (cluster-once migrations another node already ran). */
  skipMigrations: string[];
  /** Step being run or about to run. */
  step: StepName;
  stepStatus: "started" | "done";
  /** Whether drain ran (so failures must rejoin). */
  drained: boolean;
  /** Whether the stop step has started, or a failed drain left the service down: from then on a failure needs the rollback. */
  stopped: boolean;
  snapshotId?: string;
  /** Manual rollback only: the snapshot of the data as it was before the rollback restored the old one. */
  safetySnapshotId?: string;
  /** Migrations done, as `hopIndex:name`. */
  migrationsDone: string[];
  /** Times an agent restart picked this journal up again; the loop breaker reads it. */
  resumes: number;
  /** Set by the loop breaker: nothing resumes this journal until an operator runs `hoist rollback`. */
  halted?: boolean;
  /** The failure that sent the operation into rollback (the first one). */
  error?: { code: string; message: string; step: StepName };
  /** A failure of the rollback itself, when there was one. */
  rollbackError?: { code: string; message: string; step: StepName };
  startedAt: string;
  updatedAt: string;
  history: JournalEvent[];
}
