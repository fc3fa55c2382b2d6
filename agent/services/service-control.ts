import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import type { UpgradeOutcome } from "../node-agent-api.ts";
import { readCurrentVersion } from "../release/index.ts";
import { restoreBackups, restoreSnapshot, verifyBackups, verifySnapshot } from "../snapshot/index.ts";
import { clearDrainSnapshot, recordDrainSnapshot } from "./drain-snapshot.ts";
import { assertIdle, setActivity, type ManagedService } from "./managed-service.ts";
import type { ServiceHooks } from "./service-hooks.ts";
import { takeVerifiedSnapshot } from "./take-snapshot.ts";
import { newJournal, type JournalRecord } from "../upgrade/index.ts";

/** Runs a journaled rollback for the service and returns its outcome (the agent's own runner and tracking). */
export type RunRollback = (managed: ManagedService, record: JournalRecord) => Promise<UpgradeOutcome>;

/**
 * What an operator or the coordinator does to a service outside an upgrade: restore a snapshot,
 * start, stop, drain and rejoin. Each never leaves the service down by accident: a refused restore
 * starts it again, a drain that failed and left it down runs the journaled recovery.
 */
export class ServiceControl {
  constructor(
    private readonly hooks: ServiceHooks,
    private readonly runRollback: RunRollback,
  ) {}

  /**
   * Restores a snapshot: verifies it while the service still runs (a corrupt one is refused with the
   * service untouched), stops the service, makes the data dirs identical to the snapshot (and runs
   * the backups' restore commands), starts and verifies it. When anything fails after the stop, the
   * service is started again and verified before the error is thrown.
   */
  async restore(managed: ManagedService, snapshotId: string, options: WorkOptions = {}): Promise<void> {
    await assertIdle(managed);
    options.onProgress?.({ step: "restore", message: `verifying snapshot ${snapshotId} before the service is stopped` });
    await verifySnapshot(managed.paths.snapshots, snapshotId, { ...(options.signal ? { signal: options.signal } : {}) });
    await verifyBackups(managed.paths.snapshots, snapshotId);
    const current = await readCurrentVersion(managed.config.installRoot);
    const backups = this.hooks.backupContext(managed, current, options.signal);
    setActivity(managed, "stopped");
    try {
      try {
        if (current !== undefined) {
          options.onProgress?.({ step: "stop", message: "stopping the service" });
          await this.hooks.run(managed, "stop", current, options.signal);
        }
        await restoreSnapshot(managed.paths.snapshots, snapshotId, options);
        await restoreBackups(managed.config, managed.paths.snapshots, snapshotId, "stopped", backups);
      } catch (err) {
        if (current !== undefined) {
          options.onProgress?.({ step: "start", message: `restore failed (${toHoistError(err).message}); starting the service again` });
          await this.hooks.startAndVerify(managed, current, options);
        }
        throw err;
      }
      if (current !== undefined) {
        await this.hooks.startAndVerify(managed, current, options);
        const { restored } = await restoreBackups(managed.config, managed.paths.snapshots, snapshotId, "running", backups);
        if (restored.length > 0) await this.hooks.verifyPhase(managed, current, "verify", options);
      }
    } finally {
      setActivity(managed, "idle");
    }
  }

  /** Starts the active release unless every probe already passes, and lets the monitor report it again. */
  async start(managed: ManagedService, options: WorkOptions = {}): Promise<void> {
    if (managed.inFlight) throw new HoistError("BUSY", `service ${managed.config.name} is busy with another operation`);
    const current = await readCurrentVersion(managed.config.installRoot);
    if (current === undefined) throw new HoistError("WRONG_STATE", `service ${managed.config.name} has no active release to start`);
    await this.hooks.startIfDown(managed, current, options.signal);
    setActivity(managed, "idle");
  }

  /** Stops the service with its stop hook (a full-stop hop stops every node before upgrading any). */
  async stop(managed: ManagedService, options: WorkOptions = {}): Promise<void> {
    await assertIdle(managed);
    const current = await readCurrentVersion(managed.config.installRoot);
    if (current === undefined) return;
    setActivity(managed, "stopped");
    await this.hooks.run(managed, "stop", current, options.signal);
  }

  /**
   * Takes the service out of its cluster with the drain hook (the coordinator's rolling order sends
   * it on its own before an upgrade with skipDrain). With `snapshots.before: drain` a verified
   * snapshot (and backups) is taken first and handed to that upgrade. A drain hook that fails and
   * leaves the service not serving (it did its damage first) is followed by the recovery: a
   * journaled rollback that stops, restores that snapshot, starts, verifies and rejoins; if that
   * fails too, the journal stays `failed` for `hoist rollback`.
   * @throws HoistError HOOK_FAILED (details.recovery holds the recovery's outcome when one ran).
   */
  async drain(managed: ManagedService, options: WorkOptions = {}): Promise<void> {
    const current = await readCurrentVersion(managed.config.installRoot);
    if (!managed.config.hooks.drain || current === undefined) return;
    await assertIdle(managed);
    let snapshotId: string | undefined;
    if (managed.config.snapshots.before === "drain") {
      options.onProgress?.({ step: "drain", message: "taking the snapshot before the drain (snapshots.before: drain)" });
      const snapshot = await takeVerifiedSnapshot(
        { service: managed.config, snapshotsDir: managed.paths.snapshots, version: current, label: "before drain", backupContext: this.hooks.backupContext(managed, current, options.signal) },
        options,
      );
      snapshotId = snapshot.id;
      await recordDrainSnapshot(managed.paths, snapshotId, current);
    }
    setActivity(managed, "drained");
    try {
      await this.hooks.run(managed, "drain", current, options.signal);
    } catch (err) {
      const error = toHoistError(err);
      if (error.code === "CANCELLED" || (await this.hooks.servesNow(managed, current))) throw error;
      const recovery = await this.runRollback(managed, recoveryJournal(managed, current, snapshotId, error));
      const how =
        recovery.result === "rolled-back"
          ? `Hoist ${snapshotId ? `restored snapshot ${snapshotId}, ` : "(no snapshot was taken before the drain: set snapshots.before: drain) "}started, verified and rejoined it`
          : `the recovery failed too (${recovery.error?.message ?? "unknown"}); the node waits for an operator: \`hoist rollback\``;
      throw new HoistError("HOOK_FAILED", `${error.message}; the service no longer served after the failed drain, so ${how}`, { cause: error, details: { ...error.details, recovery } });
    }
  }

  /** Puts the node back with the rejoin hook, then waits for the `afterRejoin` probes (membership), if any. */
  async rejoin(managed: ManagedService, options: WorkOptions = {}): Promise<void> {
    const current = await readCurrentVersion(managed.config.installRoot);
    await clearDrainSnapshot(managed.paths);
    if (!managed.config.hooks.rejoin || current === undefined) return;
    await this.hooks.run(managed, "rejoin", current, options.signal);
    await this.hooks.verifyPhase(managed, current, "afterRejoin", options);
    setActivity(managed, "idle");
  }
}

/** The journal of the recovery after a failed drain: a rollback of the node onto the version it runs. */
function recoveryJournal(managed: ManagedService, version: string, snapshotId: string | undefined, error: HoistError): JournalRecord {
  return {
    ...newJournal({ kind: "rollback", service: managed.config.name, previousVersion: version, target: version, hops: [] }),
    drained: true,
    error: { code: error.code, message: error.message, step: "drain" },
    ...(snapshotId === undefined ? {} : { snapshotId }),
  };
}
