import type { UpgradeOutcome } from "../node-agent-api.ts";
import type { JournalRecord } from "./journal-record.ts";

/** What the agent knows when an upgrade or rollback is asked for (the recorded-key lookup came first). */
export interface OperationView {
  /** Another operation runs in this process. */
  inFlight: boolean;
  /** The journal on disk, if any (in flight elsewhere, interrupted, or halted). */
  journal?: Pick<JournalRecord, "kind" | "step" | "halted">;
  /** The active release now. */
  current?: string;
  /** The last recorded outcome. */
  last?: UpgradeOutcome;
  /** Releases finalized with `hoist finalize` (their permanent migrations cannot be undone). */
  finalized?: readonly { release: string; at: string }[];
}

export type UpgradeDecision = { action: "refuse"; code: "BUSY" | "WRONG_STATE"; message: string } | { action: "noop" } | { action: "start" };

/**
 * Whether an upgrade of `service` to `to` may start (pure): refused while an operation runs or a
 * journal is on disk (a halted one waits for `hoist rollback`), a no-op when `to` is active already.
 */
export function decideUpgrade(view: OperationView, service: string, to: string): UpgradeDecision {
  if (view.inFlight) return { action: "refuse", code: "BUSY", message: `service ${service} is busy with another operation; wait for it or check \`hoist status\`` };
  if (view.journal?.halted) {
    return { action: "refuse", code: "WRONG_STATE", message: `service ${service} has a failed ${view.journal.kind} (at ${view.journal.step}) waiting for an operator: run \`hoist rollback\` first` };
  }
  if (view.journal) return { action: "refuse", code: "BUSY", message: `service ${service} has an operation in progress (at ${view.journal.step})` };
  if (view.current === to) return { action: "noop" };
  return { action: "start" };
}

export type RollbackDecision =
  | { action: "refuse"; code: "BUSY" | "WRONG_STATE" | "FINALIZED"; message: string }
  /** The coordinator's recovery asked for a version that is active already and nothing is pending. */
  | { action: "already-there"; to: string }
  /** Run the pending (halted or interrupted) operation's rollback again from rb-stop. */
  | { action: "retry-journal" }
  /** Undo the last committed upgrade: back to `to`, restoring `snapshotId`. */
  | { action: "undo-last"; to: string; snapshotId: string };

/**
 * What `rollback` does (pure): retry the pending operation's rollback; or, with none pending, undo
 * the last committed upgrade if the node still runs what it installed and it went through no
 * finalized release (FINALIZED); otherwise refuse saying why.
 * `to` is the version the coordinator's recovery wants (already active: nothing to do).
 */
export function decideRollback(view: OperationView, service: string, to?: string): RollbackDecision {
  if (view.inFlight) return { action: "refuse", code: "BUSY", message: `service ${service} is busy with another operation` };
  if (view.journal) return { action: "retry-journal" };
  if (to !== undefined && view.current === to) return { action: "already-there", to };
  const last = view.last;
  if (!last || last.result !== "committed" || last.from === undefined || last.snapshotId === undefined) {
    return { action: "refuse", code: "WRONG_STATE", message: `nothing to roll back for ${service}: the last operation was ${last ? `${last.result} (${last.from ?? "fresh install"} -> ${last.to})` : "never run"}` };
  }
  if (view.current !== last.to) {
    return { action: "refuse", code: "WRONG_STATE", message: `the active release of ${service} is ${view.current ?? "none"}, not ${last.to} from the last upgrade; refusing to roll back` };
  }
  const crossed = view.finalized?.find((done) => last.hops.some((hop) => hop.to === done.release));
  if (crossed) {
    return {
      action: "refuse",
      code: "FINALIZED",
      message: `${service} ${crossed.release} was finalized (${crossed.at}): its permanent migrations cannot be undone, so rollback to ${last.from} is refused; fix forward with an upgrade to a newer release`,
    };
  }
  return { action: "undo-last", to: last.from, snapshotId: last.snapshotId };
}
