import { HoistError } from "../../shared/errors/index.ts";
import type { ServiceConfig } from "../config.ts";
import type { HealthMonitor } from "../health/index.ts";
import type { ServiceActivity, UpgradeOutcome } from "../node-agent-api.ts";
import type { ServicePaths } from "./service-paths.ts";
import type { InventoryCache } from "./inventory-cache.ts";
import type { DiskInventory } from "./service-inventory.ts";
// A file, not upgrade/index.ts: see agent/services/service-inventory.ts.
import { isRollbackStep } from "../upgrade/transitions.ts";
import type { StepName } from "../upgrade/steps.ts";
import type { JournalStore } from "../upgrade/journal-store.ts";

/** One service the agent manages: its config, its files, its journal, its monitor and what Hoist does to it now. */
export interface ManagedService {
  config: ServiceConfig;
  paths: ServicePaths;
  store: JournalStore;
  /** Its releases, snapshots and last outcome as last read from disk; invalidated by every change the agent makes. */
  inventory: InventoryCache<DiskInventory>;
  monitor?: HealthMonitor;
  activity: ServiceActivity;
  /** The operation running now, with its idempotency key. */
  inFlight?: { key?: string; promise: Promise<UpgradeOutcome> };
}

/** The activity a journal step stands for. */
export function activityOf(step: StepName): ServiceActivity {
  if (isRollbackStep(step)) return "rolling-back";
  if (step === "stage") return "staging";
  if (step === "drain") return "draining";
  return "upgrading";
}

/**
 * Records what Hoist is doing to the service and holds its health NOT_SERVING while Hoist has it
 * out of service (drained, stopped, upgrading, rolling back); `idle` releases the hold. Staging
 * leaves the hold as it is: it takes nothing down, but must not release the hold of a Drain the
 * coordinator sent before an upgrade with skipDrain (the node is out of its cluster).
 */
export function setActivity(managed: ManagedService, activity: ServiceActivity): void {
  managed.activity = activity;
  if (!managed.monitor || activity === "staging") return;
  if (activity === "idle") managed.monitor.release();
  else managed.monitor.hold("NOT_SERVING", activity);
}

/** Marks `promise` as the service's operation in flight (under `key`) until it settles, then idle. */
export async function trackOperation(managed: ManagedService, key: string | undefined, promise: Promise<UpgradeOutcome>): Promise<UpgradeOutcome> {
  managed.inFlight = { ...(key === undefined ? {} : { key }), promise };
  try {
    return await promise;
  } finally {
    managed.inFlight = undefined;
    setActivity(managed, "idle");
  }
}

/**
 * Refuses when another operation holds the service or a halted journal waits for an operator.
 * @throws HoistError BUSY (an operation runs or its journal is on disk), WRONG_STATE (a failed one waits).
 */
export async function assertIdle(managed: ManagedService): Promise<void> {
  if (managed.inFlight) throw new HoistError("BUSY", `service ${managed.config.name} is busy with another operation; wait for it or check \`hoist status\``);
  const journal = await managed.store.load();
  if (journal?.halted) {
    throw new HoistError("WRONG_STATE", `service ${managed.config.name} has a failed ${journal.kind} (at ${journal.step}) waiting for an operator: run \`hoist rollback\` first`);
  }
  if (journal) throw new HoistError("BUSY", `service ${managed.config.name} has an operation in progress (at ${journal.step})`);
}
