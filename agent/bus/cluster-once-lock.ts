/**
 * The record of one `cluster-once` migration in KV hoist_migrations, and the pure rule for what a
 * node does when it finds one. Effects live in cluster-once-gate.ts.
 */
export interface MigrationRecord {
  /** running: a node holds the lock and runs it; done: it ran (others skip); failed: it failed (may be taken over). */
  status: "running" | "done" | "failed";
  node: string;
  /** Random id of the agent process that wrote the record (new at every agent start). */
  incarnation?: string;
  at: string;
  /** The holder renews the record several times per lease while the migration runs; a record unchanged for a lease is dead. */
  leaseMs?: number;
  /** Holder's clock: end of the lease (informational for records that carry leaseMs; the rule for older ones). */
  expiresAt: number;
  error?: string;
}

export interface LockView {
  node: string;
  incarnation: string;
  /** A run of this migration is going on in this very process. */
  runningHere: boolean;
  now: number;
  /** How long (this node's clock) the record has been seen at the same revision; undefined when not yet seen twice. */
  unchangedForMs: number | undefined;
}

/** skip: it ran; take: acquire or take over (by revision); wait: a live holder has it. */
export type LockDecision = "skip" | "take" | "wait";

/**
 * What to do about the record found under the key:
 * - none, or failed: take it;
 * - done: skip;
 * - running, held by this node: this process runs it -> wait; an earlier process of this node (other
 *   incarnation, or none recorded), or this process after a run whose last write did not land ->
 *   take over (that owner is dead: this process is the node's agent now);
 * - running, held by another node: wait while it renews; take over once the record stayed at the same
 *   revision for a whole lease by this node's clock (no clock comparison between nodes), or, for a
 *   record without a lease (older agents), once its expiresAt passed.
 */
export function decideLock(record: MigrationRecord | undefined, view: LockView): LockDecision {
  if (!record || record.status === "failed") return "take";
  if (record.status === "done") return "skip";
  if (record.node === view.node) {
    return record.incarnation === view.incarnation && view.runningHere ? "wait" : "take";
  }
  if (record.leaseMs === undefined) return record.expiresAt <= view.now ? "take" : "wait";
  return view.unchangedForMs !== undefined && view.unchangedForMs >= record.leaseMs ? "take" : "wait";
}
