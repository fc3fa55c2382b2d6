import { channel } from "node:diagnostics_channel";

/**
 * What the agent's work reports for metrics, on node:diagnostics_channel channels: the code that does
 * the work publishes one plain message where it ends (a journal step, a hook, a snapshot) and knows
 * nothing of Prometheus; agent/metrics/agent-metrics.ts subscribes when a metrics listener is on.
 * Publishing without a subscriber costs one boolean check. Each message names its node (cluster,
 * node) or its snapshot dir, so that several agents in one process count only their own.
 */

/** A journal step ended (agent/upgrade/upgrade-runner.ts). */
export interface StepEndedMessage {
  cluster: string;
  node: string;
  service: string;
  step: string;
  result: "done" | "failed";
  seconds: number;
}

/** An upgrade or rollback operation ended (agent/upgrade/upgrade-runner.ts finishJournal). */
export interface OperationEndedMessage {
  cluster: string;
  node: string;
  service: string;
  kind: "upgrade" | "rollback";
  result: string;
}

/** A hook, migration or backup command failed (agent/exec/run-command.ts runHook); cancellation is no failure. */
export interface HookFailedMessage {
  cluster: string;
  node: string;
  service: string;
  /** The hook's name as runHook knows it: `start`, `migration add-index`, `backup db` ... */
  hook: string;
}

/** A verified snapshot was taken (agent/services/take-snapshot.ts). */
export interface SnapshotTakenMessage {
  snapshotsDir: string;
  service: string;
  /** Content bytes of the data dirs' files. */
  bytes: number;
  /** Bytes of the archives on disk (backups and dumps not counted). */
  archiveBytes: number;
  /** From the first backup command to the end of verification. */
  seconds: number;
}

const stepEnded = channel("hoist:agent:step-ended");
const operationEnded = channel("hoist:agent:operation-ended");
const hookFailed = channel("hoist:agent:hook-failed");
const snapshotTaken = channel("hoist:agent:snapshot-taken");

export const AGENT_CHANNELS = { stepEnded, operationEnded, hookFailed, snapshotTaken } as const;

export function publishStepEnded(message: StepEndedMessage): void {
  if (stepEnded.hasSubscribers) stepEnded.publish(message);
}

export function publishOperationEnded(message: OperationEndedMessage): void {
  if (operationEnded.hasSubscribers) operationEnded.publish(message);
}

/** `env` is the hook's environment (hook-env.ts): HOIST_CLUSTER, HOIST_NODE and HOIST_SERVICE name whose hook it was. */
export function publishHookFailed(hook: string, env: Readonly<Record<string, string>>): void {
  if (!hookFailed.hasSubscribers) return;
  const message: HookFailedMessage = { cluster: env.HOIST_CLUSTER ?? "", node: env.HOIST_NODE ?? "", service: env.HOIST_SERVICE ?? "", hook };
  hookFailed.publish(message);
}

export function publishSnapshotTaken(message: SnapshotTakenMessage): void {
  if (snapshotTaken.hasSubscribers) snapshotTaken.publish(message);
}
