/**
 * The steps of one node's upgrade, in order, and of its rollback.
 * Patch (a lone `kind: patch` hop): stage -> [validate] -> patch -> commit.
 * Forward: stage -> [validate] -> drain -> [migrate-online] -> stop -> snapshot -> switch -> migrate -> start -> verify -> rejoin -> commit.
 * Rollback (any failure after stop): rb-stop -> rb-restore -> rb-switch -> rb-start -> rb-verify -> rb-rejoin.
 */
export const FORWARD_STEPS = [
  /** Fetch, check and unpack every hop's release beside the active one; no downtime. */
  "stage",
  /** With `validate` configured: start the new release on scratch data (another port) and check its probes; production untouched. */
  "validate",
  /** Take the node out of service (load balancer, cluster membership) with the drain hook. */
  "drain",
  /** Per hop: run the hop's `when: before-stop` migrations against the old release, still running (only when there are any). */
  "migrate-online",
  /** Stop the service with its stop hook. */
  "stop",
  /** Archive every data dir with a manifest, then verify it; nothing changes before this holds. */
  "snapshot",
  /** Per hop: carry preserved files over and point `current` at the hop's release. */
  "switch",
  /** Per hop: run the hop's migrations in order against the data dirs. */
  "migrate",
  /** Start the new release with its start hook. */
  "start",
  /** Wait until every probe has held healthy for minHealthyMs within healthyDeadlineMs. */
  "verify",
  /** Put the node back into service with the rejoin hook. */
  "rejoin",
  /** A patch operation only (instead of drain .. rejoin): replace the changed files in place, reload, verify; undone on failure. */
  "patch",
  /** Record success, prune old releases and snapshots. */
  "commit",
] as const;

export const ROLLBACK_STEPS = [
  /** Stop whatever runs now (the new release, maybe half started). */
  "rb-stop",
  /** Make every data dir byte-identical to the pre-upgrade snapshot. */
  "rb-restore",
  /** Point `current` back at the release that ran before. */
  "rb-switch",
  /** Start the previous release. */
  "rb-start",
  /** Wait for the previous release to be healthy again. */
  "rb-verify",
  /** Put the node back into service. */
  "rb-rejoin",
] as const;

export type ForwardStep = (typeof FORWARD_STEPS)[number];
export type RollbackStep = (typeof ROLLBACK_STEPS)[number];
export type StepName = ForwardStep | RollbackStep;

/** Terminal states of a journal. */
export type TerminalState = "committed" | "rolled-back" | "aborted" | "failed";

/** When the snapshot is taken: `stop` (default, data at rest) or `drain` (the drain hook destroys local data). */
export type SnapshotBefore = "stop" | "drain";

/**
 * The forward steps in the order they run: as FORWARD_STEPS, or with the snapshot moved before the
 * drain when the service declares `snapshots.before: drain` (ejabberd's leave_cluster wipes the node);
 * `migrate-online` only when the upgrade has `before-stop` migrations, `validate` only when the service validates.
 */
export function forwardOrder(snapshotBefore: SnapshotBefore = "stop", onlineMigrations = false, validate = false, patch = false): readonly ForwardStep[] {
  if (patch) return ["stage", ...(validate ? (["validate"] as const) : []), "patch", "commit"];
  const steps = FORWARD_STEPS.filter((step) => step !== "patch" && (step !== "migrate-online" || onlineMigrations) && (step !== "validate" || validate));
  if (snapshotBefore === "stop") return steps;
  return ["stage", "snapshot", ...steps.filter((step) => !["stage", "snapshot"].includes(step))];
}

/** Steps after which the old release no longer runs: a failure from here on needs a rollback. */
export const STEPS_AFTER_STOP: readonly StepName[] = ["stop", "snapshot", "switch", "migrate", "start", "verify", "rejoin"];
