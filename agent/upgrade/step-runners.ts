import { rm } from "node:fs/promises";
import { join } from "node:path";
import { runHook, type ProcessTracker } from "../exec/index.ts";
import { alreadyServing, createLogProbeState, waitHealthy, type LogProbeState } from "../health/index.ts";
import { applyPatch, diffReleaseFiles, undoPatch, carryPreservedFiles, carryReleaseData, releaseDataSnapshotDirs, readCurrentVersion, releaseDir, stageRelease, switchCurrent } from "../release/index.ts";
import {
  attachBackups,
  createSnapshot,
  prepareSnapshotWorker,
  takeBackups,
  TwoPhaseSnapshot,
  verifyBackups,
  restoreBackups,
  restoreSnapshot,
  verifySnapshot,
  type BackupContext,
  type CreateSnapshotInput,
} from "../snapshot/index.ts";
import { snapshotInputFor, takeVerifiedSnapshot } from "../services/take-snapshot.ts";
import { takeDrainSnapshot } from "../services/drain-snapshot.ts";
import { peerEnv } from "../services/peer-env.ts";
import { toHoistError } from "../../shared/errors/index.ts";
import { probesFor, type ProbePhase } from "../config.ts";
import { StepFailure } from "./step-failure.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import type { HookConfig } from "../config.ts";
import { hookEnv } from "../services/hook-env.ts";
import type { StepName } from "./steps.ts";
import type { JournalRecord } from "./journal-record.ts";
import type { StepContext, StepFunction } from "./step-context.ts";
import { permanentMigrations, readFinalizeState, writeFinalizeState } from "./finalize-state.ts";
import { applyRetention, neededUntilFinalized } from "./retention.ts";
import { validateRelease } from "./validate-step.ts";

function env(ctx: StepContext, extra: Record<string, string> = {}): Record<string, string> {
  return hookEnv(ctx.config, ctx.service, extra);
}

/** How one child process of this step runs: written down (when the agent owns its state dir), as the service's user. */
function child(ctx: StepContext, what: string): { tracker?: ProcessTracker; user?: string } {
  return {
    ...(ctx.track ? { tracker: ctx.track(`${ctx.service.name} ${ctx.record.step}: ${what}`) } : {}),
    ...(ctx.service.user === undefined ? {} : { user: ctx.service.user }),
  };
}

async function runServiceHook(ctx: StepContext, name: string, hook: HookConfig, version: string): Promise<void> {
  ctx.onProgress({ step: ctx.record.step, message: `running ${name} hook (${hook.run.join(" ")})` });
  const peers = await peerEnv(ctx.peers, ctx.service.name, ctx.logger);
  await runHook(name, hook, { cwd: releaseDir(ctx.service.installRoot, version), env: env(ctx, { HOIST_RELEASE_DIR: releaseDir(ctx.service.installRoot, version), ...peers }), signal: ctx.signal, ...child(ctx, `${name} hook`) });
}

/** Log probes only count lines written after the start hook ran, so their offsets are taken here. */
function beginLogWatch(ctx: StepContext): Promise<Map<string, LogProbeState>> {
  const states = new Map<string, LogProbeState>();
  const pending = ctx.service.health.probes.flatMap((probe) => (probe.type === "log" ? [createLogProbeState(probe.file).then((state) => void states.set(probe.file, state))] : []));
  return Promise.all(pending).then(() => {
    ctx.runtime.logStartOffsets = states;
    return states;
  });
}

async function verifyHealthy(ctx: StepContext, version: string, phase: ProbePhase = "verify"): Promise<void> {
  const probes = probesFor(ctx.service, phase);
  if (probes.length === 0) return;
  const logStates = (ctx.runtime.logStartOffsets as Map<string, LogProbeState> | undefined) ?? (await beginLogWatch(ctx));
  const { minHealthyMs, healthyDeadlineMs, intervalMs } = ctx.service.health;
  ctx.onProgress({ step: ctx.record.step, message: `checking the ${phase} probes (${probes.length})` });
  await waitHealthy(probes, {
    minHealthyMs,
    healthyDeadlineMs,
    intervalMs,
    cwd: releaseDir(ctx.service.installRoot, version),
    env: env(ctx),
    signal: ctx.signal,
    onProgress: ctx.onProgress,
    logStates,
    ...child(ctx, "probe"),
  });
}

/** Drain and rejoin hooks run only on an upgrade of a running release that the coordinator does not drain itself. */
export function hasDrainHooks(record: Pick<JournalRecord, "skipDrain" | "previousVersion">): boolean {
  return !record.skipDrain && record.previousVersion !== undefined;
}

/**
 * Why an upgrade step will do nothing (said in its progress line instead of "started"/"done"), or
 * undefined when it runs. Pure; mirrors the checks of the drain, stop and rejoin step functions.
 */
export function skippedStepReason(step: string, record: Pick<JournalRecord, "skipDrain" | "previousVersion">, hooks: { drain?: unknown; rejoin?: unknown }): string | undefined {
  if (step === "stop" && record.previousVersion === undefined) return "fresh install, nothing runs yet";
  if (step !== "drain" && step !== "rejoin") return undefined;
  if (record.previousVersion === undefined) return "fresh install";
  if (record.skipDrain) return "the coordinator drains and rejoins the node itself";
  if (hooks[step] === undefined) return `no ${step} hook`;
  return undefined;
}

const stage: StepFunction = async (ctx) => {
  for (const [index, hop] of ctx.record.hops.entries()) {
    ctx.onProgress({ step: "stage", message: `staging ${hop.to} (${index + 1}/${ctx.record.hops.length})` });
    await stageRelease({ installRoot: ctx.service.installRoot, version: hop.to, artifact: hop.artifact, cacheDir: ctx.paths.artifacts, limits: ctx.service.limits }, { signal: ctx.signal, onProgress: ctx.onProgress });
  }
};

/** Whether the verify probes that answer at once all pass for `version` now. */
function servesNow(ctx: StepContext, version: string): Promise<boolean> {
  return alreadyServing(probesFor(ctx.service, "verify"), { cwd: releaseDir(ctx.service.installRoot, version), env: env(ctx), ...child(ctx, "probe") });
}

/**
 * Runs the drain hook. A drain that fails may have done its damage first (ejabberd: left the cluster,
 * wiped its tables, halted): when the service no longer serves afterwards, the failure is marked
 * `stopped`, so that the full rollback runs (restore of a snapshot taken before the drain, start,
 * verify, rejoin) instead of a rejoin alone.
 */
const drain: StepFunction = async (ctx) => {
  await startFirstPhase(ctx);
  const hook = ctx.service.hooks.drain;
  if (!hook || !hasDrainHooks(ctx.record)) return { drained: false };
  const version = ctx.record.previousVersion!;
  try {
    await runServiceHook(ctx, "drain", hook, version);
  } catch (err) {
    const error = toHoistError(err);
    if (error.code === "CANCELLED" || (await servesNow(ctx, version).catch(() => false))) throw error;
    ctx.onProgress({ step: "drain", message: `the drain hook failed and ${ctx.service.name} no longer serves: rolling back (restore, start, verify, rejoin)` });
    throw new StepFailure(error, { stopped: true });
  }
  return { drained: true };
};

const stop: StepFunction = async (ctx) => {
  // Warm the snapshot worker now, so its start is not part of the downtime (a first phase holds its own).
  if (ctx.runtime.firstPhase === undefined) prepareSnapshotWorker();
  if (ctx.record.previousVersion === undefined) return;
  await runServiceHook(ctx, "stop", ctx.service.hooks.stop, ctx.record.previousVersion);
};

/**
 * First phase of a two-phase snapshot (`snapshots.twoPhase`, with `before: stop` and plain tar):
 * copies the data dirs while the service still runs, before the drain, so that the snapshot step
 * after the stop takes only what changed. A first phase that fails is logged and dropped: the
 * snapshot step then takes a full snapshot (and fails there if the cause remains, e.g. a full disk).
 */
async function startFirstPhase(ctx: StepContext): Promise<void> {
  const { snapshots } = ctx.service;
  if (!snapshots.twoPhase || snapshots.before !== "stop" || snapshots.compression !== "none" || ctx.runtime.firstPhase !== undefined) return;
  ctx.onProgress({ step: ctx.record.step, message: "copying the data dirs while the service runs (first phase of the snapshot)" });
  try {
    ctx.runtime.firstPhase = await TwoPhaseSnapshot.start(snapshotInput(ctx), { signal: ctx.signal });
  } catch (err) {
    const error = toHoistError(err);
    if (error.code === "CANCELLED" || error.code === "TIMEOUT") throw error;
    ctx.logger.warn({ err: error, code: error.code }, "first snapshot phase failed; the snapshot step takes a full snapshot");
  }
}

function snapshotInput(ctx: StepContext): CreateSnapshotInput {
  return snapshotInputFor(snapshotService(ctx), ctx.paths.snapshots, ctx.record.previousVersion, upgradeLabel(ctx));
}

/** The service as the upgrade's snapshot sees it: release data moved at the switch leaves the old release, so the snapshot keeps it for the rollback. */
function snapshotService(ctx: StepContext): StepContext["service"] {
  const version = ctx.record.previousVersion;
  const moved = version === undefined ? [] : releaseDataSnapshotDirs(releaseDir(ctx.service.installRoot, version), ctx.service.releaseData);
  return moved.length === 0 ? ctx.service : { ...ctx.service, dataDirs: [...ctx.service.dataDirs, ...moved] };
}

function upgradeLabel(ctx: StepContext): string {
  return `before upgrade to ${ctx.record.target}`;
}

/** How a backup command (or database tool) runs: in the active release dir, with the service's env, written down, as its user. */
function backupContext(ctx: StepContext, version: string | undefined): BackupContext {
  const cwd = version === undefined ? ctx.service.installRoot : releaseDir(ctx.service.installRoot, version);
  return (spec) => ({ cwd, env: env(ctx), signal: ctx.signal, ...child(ctx, `backup ${spec.name}`) });
}

/**
 * Takes the verified snapshot (backups, data dirs) the rollback restores. A drain sent on its own
 * before an upgrade with skipDrain (the coordinator's rolling order) took it already when the
 * service declares `snapshots.before: drain`: that one is used, since the drain may have wiped the data.
 */
const snapshot: StepFunction = async (ctx) => {
  const version = ctx.record.previousVersion;
  if (ctx.record.skipDrain && ctx.service.snapshots.before === "drain" && version !== undefined) {
    const taken = await takeDrainSnapshot(ctx.paths, version);
    if (taken) {
      ctx.onProgress({ step: "snapshot", message: `using snapshot ${taken} taken before the drain` });
      return { snapshotId: taken };
    }
  }
  const firstPhase = ctx.runtime.firstPhase;
  ctx.runtime.firstPhase = undefined;
  const info = await takeVerifiedSnapshot(
    { service: snapshotService(ctx), snapshotsDir: ctx.paths.snapshots, version, label: upgradeLabel(ctx), backupContext: backupContext(ctx, version), ...(firstPhase ? { firstPhase } : {}) },
    { signal: ctx.signal, onProgress: ctx.onProgress },
  );
  return { snapshotId: info.id };
};

const switchRelease: StepFunction = async (ctx) => {
  const { installRoot, preserve } = ctx.service;
  if (ctx.record.previousVersion !== undefined && preserve.length > 0) {
    const from = releaseDir(installRoot, ctx.record.previousVersion);
    for (const hop of ctx.record.hops) {
      const copied = await carryPreservedFiles(from, releaseDir(installRoot, hop.to), [...preserve]);
      ctx.onProgress({ step: "switch", message: `carried ${copied.length} preserved path(s) into ${hop.to}` });
    }
  }
  if (ctx.record.previousVersion !== undefined && ctx.service.releaseData.length > 0) {
    const carried = await carryReleaseData(releaseDir(installRoot, ctx.record.previousVersion), releaseDir(installRoot, ctx.record.target), ctx.service.releaseData);
    for (const dir of carried) ctx.onProgress({ step: "switch", message: `${dir.mode === "copy" ? "copied" : "moved"} ${dir.path} into ${ctx.record.target} (${dir.files} files, ${dir.bytes} bytes, verified)` });
  }
  await switchCurrent(installRoot, ctx.record.target);
  ctx.onProgress({ step: "switch", message: `current -> ${ctx.record.target}` });
};

/**
 * Runs the hops' migrations of one kind in order, from each hop's release dir, skipping those done
 * (journaled as `hopIndex:name`) and the cluster-once ones another node ran. `before-stop` ones run
 * while the old release still serves (HOIST_ACTIVE_RELEASE_DIR names its dir).
 */
async function runMigrations(ctx: StepContext, when: "after-switch" | "before-stop"): Promise<Partial<JournalRecord>> {
  const done = [...ctx.record.migrationsDone];
  const step = ctx.record.step;
  const active: Record<string, string> = ctx.record.previousVersion === undefined ? {} : { HOIST_ACTIVE_RELEASE_DIR: releaseDir(ctx.service.installRoot, ctx.record.previousVersion) };
  for (const [index, hop] of ctx.record.hops.entries()) {
    const dir = releaseDir(ctx.service.installRoot, hop.to);
    for (const migration of hop.migrations) {
      if ((migration.when ?? "after-switch") !== when) continue;
      const id = `${index}:${migration.name}`;
      if (done.includes(id)) continue;
      if (ctx.record.skipMigrations.includes(migration.name)) {
        ctx.onProgress({ step, message: `skipping ${migration.name} (${migration.scope}: already run in the cluster)` });
        continue;
      }
      ctx.onProgress({ step, message: `${hop.from} -> ${hop.to}: running ${migration.name}${when === "before-stop" ? ` against the running ${ctx.record.previousVersion}` : ""}` });
      const run = async () => {
        await runHook(`migration ${migration.name}`, migration, {
          cwd: dir,
          env: env(ctx, { HOIST_FROM_VERSION: hop.from, HOIST_TO_VERSION: hop.to, HOIST_RELEASE_DIR: dir, ...(when === "before-stop" ? active : {}) }),
          signal: ctx.signal,
          ...child(ctx, `migration ${migration.name}`),
        });
      };
      if (migration.scope === "cluster-once" && ctx.clusterOnce) {
        const ran = await ctx.clusterOnce.runOnce({ service: ctx.service.name, version: hop.to, migration: migration.name }, run, ctx.signal);
        if (ran === "skipped") ctx.onProgress({ step, message: `${migration.name} already ran in the cluster; skipped` });
      } else {
        await run();
      }
      done.push(id);
    }
  }
  return { migrationsDone: done };
}

const migrate: StepFunction = (ctx) => runMigrations(ctx, "after-switch");

/** Online migrations (`when: before-stop`): against the old release while it still runs, before the stop. */
const migrateOnline: StepFunction = (ctx) => runMigrations(ctx, "before-stop");

const start: StepFunction = async (ctx) => {
  await beginLogWatch(ctx);
  await runServiceHook(ctx, "start", ctx.service.hooks.start, ctx.record.target);
};

const verify: StepFunction = async (ctx) => {
  await verifyHealthy(ctx, ctx.record.target);
};

/** Runs the rejoin hook, then waits for the `afterRejoin` probes (cluster membership), if any. */
const rejoin: StepFunction = async (ctx) => {
  const hook = ctx.service.hooks.rejoin;
  if (!hook || !hasDrainHooks(ctx.record)) return;
  await runServiceHook(ctx, "rejoin", hook, ctx.record.target);
  await verifyHealthy(ctx, ctx.record.target, "afterRejoin");
};

/**
 * Records an upgrade that ran permanent migrations as waiting for `hoist finalize` (once per
 * journal: a commit run again after a crash finds it there), then removes old releases and
 * snapshots: never the active release, the one before it and its snapshot (the rollback's), nor
 * what an upgrade waiting for finalize still needs.
 */
const commit: StepFunction = async (ctx) => {
  const permanent = permanentMigrations(ctx.record.hops);
  let state = await readFinalizeState(ctx.paths.finalize);
  const { previousVersion, snapshotId } = ctx.record;
  if (permanent && previousVersion !== undefined && snapshotId !== undefined && !state.pending.some((pending) => pending.snapshotId === snapshotId)) {
    state = { ...state, pending: [...state.pending, { ...permanent, before: previousVersion, snapshotId, since: new Date().toISOString() }] };
    await writeFinalizeState(ctx.paths.finalize, state);
    ctx.onProgress({
      step: "commit",
      message: `${permanent.release} ran permanent migrations (${permanent.migrations.join(", ")}): ${previousVersion} and snapshot ${snapshotId} are kept, and rollback works, until \`hoist finalize\``,
    });
  }
  const needed = neededUntilFinalized(state);
  try {
    const removed = await applyRetention({
      installRoot: ctx.service.installRoot,
      snapshotsDir: ctx.paths.snapshots,
      keepReleases: ctx.service.releases.keep,
      keepSnapshots: ctx.service.snapshots.keep,
      protectReleases: [ctx.record.target, ...(previousVersion ? [previousVersion] : []), ...needed.releases],
      protectSnapshots: [...(snapshotId ? [snapshotId] : []), ...needed.snapshots],
    });
    if (removed.releases.length + removed.snapshots.length > 0) ctx.logger.info(removed, "pruned old releases and snapshots");
  } catch (err) {
    ctx.logger.warn({ err }, "pruning after commit failed; the upgrade itself is committed");
  }
};

/**
 * A patch hop (ejabberd's "update only changed *.beam files, then `update`"): the files of the
 * staged release that differ from the running one (listed with their sha256) replace those of the
 * active release dir in place, their originals kept aside first; the reload hook loads them into
 * the running service (no stop, no start) and the verify probes must hold. On success `current`
 * points at the new release (the same files) and the old release gets its originals back, for a
 * later rollback. On failure the originals go back, the reload hook runs again and the probes are
 * checked: the outcome is rolled-back, or failed when that does not hold either. Leftovers of a
 * crash inside this step are undone first.
 */
const patch: StepFunction = async (ctx) => {
  const { installRoot } = ctx.service;
  const previous = ctx.record.previousVersion!;
  const reload = ctx.service.hooks.reload!;
  const activeDir = releaseDir(installRoot, previous);
  const backupDir = join(ctx.paths.root, "patch-backup");
  await undoPatch(activeDir, backupDir);
  const files = await diffReleaseFiles(activeDir, releaseDir(installRoot, ctx.record.target));
  ctx.onProgress({ step: "patch", message: `replacing ${files.length} changed file(s) of ${previous} in place: ${files.map((file) => `${file.path} (sha256 ${file.sha256.slice(0, 12)})`).join(", ") || "none"}` });
  try {
    await applyPatch(activeDir, releaseDir(installRoot, ctx.record.target), backupDir, files);
    await runServiceHook(ctx, "reload", reload, previous);
    await verifyHealthy(ctx, previous);
  } catch (err) {
    const error = toHoistError(err);
    if (error.code === "CANCELLED") throw error;
    ctx.onProgress({ step: "patch", message: `the patch failed (${error.message}); putting the ${files.length} original file(s) back and reloading` });
    try {
      await undoPatch(activeDir, backupDir);
      await runServiceHook(ctx, "reload", reload, previous);
      await verifyHealthy(ctx, previous);
    } catch (undoErr) {
      ctx.logger.error({ err: undoErr }, "undoing the patch failed; the node needs an operator");
      throw new StepFailure(error, { patchUndone: false });
    }
    throw new StepFailure(error, { patchUndone: true });
  }
  await switchCurrent(installRoot, ctx.record.target);
  await undoPatch(activeDir, backupDir);
  ctx.onProgress({ step: "patch", message: `current -> ${ctx.record.target}; ${previous} has its original files again` });
};

const rollbackStop: StepFunction = async (ctx) => {
  if (!ctx.record.stopped) return;
  const running = await readCurrentVersion(ctx.service.installRoot);
  if (running === undefined) return;
  await runServiceHook(ctx, "stop", ctx.service.hooks.stop, running);
};

const rollbackRestore: StepFunction = async (ctx) => {
  if (ctx.record.snapshotId === undefined) return;
  let safetySnapshotId = ctx.record.safetySnapshotId;
  if (ctx.record.kind === "rollback" && safetySnapshotId === undefined) {
    // Today's databases too: the restore below replaces them (backup commands need the service up, so not those).
    const dumps = ctx.service.databases.length === 0 ? undefined : await takeBackups({ backups: [], databases: ctx.service.databases }, ctx.paths.snapshots, backupContext(ctx, ctx.record.previousVersion));
    const safety = await createSnapshot(
      {
        service: ctx.service.name,
        // Today's release data too (both modes: the rollback goes back to the old release's copy).
        dataDirs: [...ctx.service.dataDirs, ...(ctx.record.activeBefore === undefined ? [] : releaseDataSnapshotDirs(releaseDir(ctx.service.installRoot, ctx.record.activeBefore), ctx.service.releaseData, ["copy", "move"]))],
        snapshotsDir: ctx.paths.snapshots,
        compression: ctx.service.snapshots.compression,
        label: `before rollback to ${ctx.record.target}`,
      },
      { signal: ctx.signal, onProgress: ctx.onProgress },
    );
    if (dumps) await attachBackups(ctx.paths.snapshots, safety.id, dumps);
    await verifySnapshot(ctx.paths.snapshots, safety.id, { signal: ctx.signal });
    await verifyBackups(ctx.paths.snapshots, safety.id, { signal: ctx.signal });
    ctx.onProgress({ step: "rb-restore", message: `kept today's data${dumps ? " and databases" : ""} as snapshot ${safety.id}` });
    safetySnapshotId = safety.id;
  }
  ctx.onProgress({ step: "rb-restore", message: `restoring snapshot ${ctx.record.snapshotId}` });
  await restoreSnapshot(ctx.paths.snapshots, ctx.record.snapshotId, { signal: ctx.signal, onProgress: ctx.onProgress });
  const { restored } = await restoreBackups(ctx.service, ctx.paths.snapshots, ctx.record.snapshotId, "stopped", backupContext(ctx, ctx.record.previousVersion));
  if (restored.length > 0) ctx.onProgress({ step: "rb-restore", message: `restored backup(s) ${restored.join(", ")}` });
  return safetySnapshotId === undefined ? {} : { safetySnapshotId };
};

const rollbackSwitch: StepFunction = async (ctx) => {
  const { installRoot } = ctx.service;
  const previous = ctx.record.previousVersion;
  if (previous === undefined) {
    await rm(join(installRoot, "current"), { force: true });
    await fsyncDir(installRoot).catch(() => undefined);
    return;
  }
  if ((await readCurrentVersion(installRoot)) !== previous) await switchCurrent(installRoot, previous);
};

const rollbackStart: StepFunction = async (ctx) => {
  if (!ctx.record.stopped || ctx.record.previousVersion === undefined) return;
  await beginLogWatch(ctx);
  if (await servesNow(ctx, ctx.record.previousVersion)) return;
  await runServiceHook(ctx, "start", ctx.service.hooks.start, ctx.record.previousVersion);
};

/** Waits for the previous release to be healthy; backups restored into a running service (restoreWhen: running) go in then, and it is verified again. */
const rollbackVerify: StepFunction = async (ctx) => {
  if (!ctx.record.stopped || ctx.record.previousVersion === undefined) return;
  await verifyHealthy(ctx, ctx.record.previousVersion);
  if (ctx.record.snapshotId === undefined) return;
  const { restored } = await restoreBackups(ctx.service, ctx.paths.snapshots, ctx.record.snapshotId, "running", backupContext(ctx, ctx.record.previousVersion));
  if (restored.length === 0) return;
  ctx.onProgress({ step: "rb-verify", message: `restored backup(s) ${restored.join(", ")} into the running service` });
  await verifyHealthy(ctx, ctx.record.previousVersion);
};

const rollbackRejoin: StepFunction = async (ctx) => {
  const hook = ctx.service.hooks.rejoin;
  if (!hook || !hasDrainHooks(ctx.record) || !ctx.record.drained) return;
  await runServiceHook(ctx, "rejoin", hook, ctx.record.previousVersion!);
  await verifyHealthy(ctx, ctx.record.previousVersion!, "afterRejoin");
};

/** The I/O of every step, by name; the transition table decides the order. */
export const STEP_FUNCTIONS: Record<StepName, StepFunction> = {
  stage,
  validate: validateRelease,
  drain,
  "migrate-online": migrateOnline,
  stop,
  snapshot,
  switch: switchRelease,
  migrate,
  start,
  verify,
  rejoin,
  patch,
  commit,
  "rb-stop": rollbackStop,
  "rb-restore": rollbackRestore,
  "rb-switch": rollbackSwitch,
  "rb-start": rollbackStart,
  "rb-verify": rollbackVerify,
  "rb-rejoin": rollbackRejoin,
};
