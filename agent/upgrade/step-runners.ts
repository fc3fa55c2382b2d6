import { rm } from "node:fs/promises";
import { join } from "node:path";
import { runHook, type ProcessTracker } from "../exec/index.ts";
import { alreadyServing, createLogProbeState, waitHealthy, type LogProbeState } from "../health/index.ts";
import { carryPreservedFiles, pruneReleases, readCurrentVersion, releaseDir, stageRelease, switchCurrent } from "../release/index.ts";
import { createSnapshot, prepareSnapshotWorker, pruneSnapshots, restoreSnapshot, verifySnapshot } from "../snapshot/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import type { HookConfig } from "../config.ts";
import { hookEnv } from "../services/hook-env.ts";
import type { StepName } from "./steps.ts";
import type { JournalRecord } from "./journal-record.ts";
import type { StepContext, StepFunction } from "./step-context.ts";

function env(ctx: StepContext, extra: Record<string, string> = {}): Record<string, string> {
  return hookEnv(ctx.config, ctx.service, extra);
}

/** The process tracker for one child of this step, when the agent owns its state dir. */
function tracked(ctx: StepContext, what: string): { tracker?: ProcessTracker } {
  return ctx.track ? { tracker: ctx.track(`${ctx.service.name} ${ctx.record.step}: ${what}`) } : {};
}

async function runServiceHook(ctx: StepContext, name: string, hook: HookConfig, version: string): Promise<void> {
  ctx.onProgress({ step: ctx.record.step, message: `running ${name} hook (${hook.run.join(" ")})` });
  await runHook(name, hook, { cwd: releaseDir(ctx.service.installRoot, version), env: env(ctx, { HOIST_RELEASE_DIR: releaseDir(ctx.service.installRoot, version) }), signal: ctx.signal, ...tracked(ctx, `${name} hook`) });
}

/** Log probes only count lines written after the start hook ran, so their offsets are taken here. */
function beginLogWatch(ctx: StepContext): Promise<Map<string, LogProbeState>> {
  const states = new Map<string, LogProbeState>();
  const pending = ctx.service.health.probes.flatMap((probe) =>
    probe.type === "log" ? [createLogProbeState(probe.file).then((state) => void states.set(probe.file, state))] : [],
  );
  return Promise.all(pending).then(() => {
    ctx.runtime.logStartOffsets = states;
    return states;
  });
}

async function verifyHealthy(ctx: StepContext, version: string): Promise<void> {
  const logStates = (ctx.runtime.logStartOffsets as Map<string, LogProbeState> | undefined) ?? (await beginLogWatch(ctx));
  const { probes, minHealthyMs, healthyDeadlineMs, intervalMs } = ctx.service.health;
  await waitHealthy(probes, {
    minHealthyMs,
    healthyDeadlineMs,
    intervalMs,
    cwd: releaseDir(ctx.service.installRoot, version),
    env: env(ctx),
    signal: ctx.signal,
    onProgress: ctx.onProgress,
    logStates,
    ...tracked(ctx, "probe"),
  });
}

/** Drain and rejoin hooks run only on an upgrade of a running release that the coordinator does not drain itself. */
export function hasDrainHooks(record: Pick<JournalRecord, "skipDrain" | "previousVersion">): boolean {
  return !record.skipDrain && record.previousVersion !== undefined;
}

const stage: StepFunction = async (ctx) => {
  for (const [index, hop] of ctx.record.hops.entries()) {
    ctx.onProgress({ step: "stage", message: `staging ${hop.to} (${index + 1}/${ctx.record.hops.length})` });
    await stageRelease(
      { installRoot: ctx.service.installRoot, version: hop.to, artifact: hop.artifact, cacheDir: ctx.paths.artifacts, limits: ctx.service.limits },
      { signal: ctx.signal, onProgress: ctx.onProgress },
    );
  }
};

const drain: StepFunction = async (ctx) => {
  const hook = ctx.service.hooks.drain;
  if (!hook || !hasDrainHooks(ctx.record)) return { drained: false };
  await runServiceHook(ctx, "drain", hook, ctx.record.previousVersion!);
  return { drained: true };
};

const stop: StepFunction = async (ctx) => {
  prepareSnapshotWorker(); // warm the snapshot worker now, so its start is not part of the downtime
  if (ctx.record.previousVersion === undefined) return;
  await runServiceHook(ctx, "stop", ctx.service.hooks.stop, ctx.record.previousVersion);
};

const snapshot: StepFunction = async (ctx) => {
  const info = await createSnapshot(
    {
      service: ctx.service.name,
      dataDirs: [...ctx.service.dataDirs],
      snapshotsDir: ctx.paths.snapshots,
      compression: ctx.service.snapshots.compression,
      version: ctx.record.previousVersion,
      label: `before upgrade to ${ctx.record.target}`,
    },
    { signal: ctx.signal, onProgress: ctx.onProgress },
  );
  ctx.onProgress({ step: "snapshot", message: `verifying snapshot ${info.id}` });
  await verifySnapshot(ctx.paths.snapshots, info.id, { signal: ctx.signal });
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
  await switchCurrent(installRoot, ctx.record.target);
  ctx.onProgress({ step: "switch", message: `current -> ${ctx.record.target}` });
};

const migrate: StepFunction = async (ctx) => {
  const done = [...ctx.record.migrationsDone];
  for (const [index, hop] of ctx.record.hops.entries()) {
    const dir = releaseDir(ctx.service.installRoot, hop.to);
    for (const migration of hop.migrations) {
      const id = `${index}:${migration.name}`;
      if (done.includes(id)) continue;
      if (ctx.record.skipMigrations.includes(migration.name)) {
        ctx.onProgress({ step: "migrate", message: `skipping ${migration.name} (${migration.scope}: already run in the cluster)` });
        continue;
      }
      ctx.onProgress({ step: "migrate", message: `${hop.from} -> ${hop.to}: running ${migration.name}` });
      const run = async () => {
        await runHook(`migration ${migration.name}`, migration, {
          cwd: dir,
          env: env(ctx, { HOIST_FROM_VERSION: hop.from, HOIST_TO_VERSION: hop.to, HOIST_RELEASE_DIR: dir }),
          signal: ctx.signal,
          ...tracked(ctx, `migration ${migration.name}`),
        });
      };
      if (migration.scope === "cluster-once" && ctx.clusterOnce) {
        const ran = await ctx.clusterOnce.runOnce({ service: ctx.service.name, version: hop.to, migration: migration.name }, run, ctx.signal);
        if (ran === "skipped") ctx.onProgress({ step: "migrate", message: `${migration.name} already ran in the cluster; skipped` });
      } else {
        await run();
      }
      done.push(id);
    }
  }
  return { migrationsDone: done };
};

const start: StepFunction = async (ctx) => {
  await beginLogWatch(ctx);
  await runServiceHook(ctx, "start", ctx.service.hooks.start, ctx.record.target);
};

const verify: StepFunction = async (ctx) => {
  await verifyHealthy(ctx, ctx.record.target);
};

const rejoin: StepFunction = async (ctx) => {
  const hook = ctx.service.hooks.rejoin;
  if (!hook || !hasDrainHooks(ctx.record)) return;
  await runServiceHook(ctx, "rejoin", hook, ctx.record.target);
};

const commit: StepFunction = async (ctx) => {
  const protect = [ctx.record.target, ...(ctx.record.previousVersion ? [ctx.record.previousVersion] : [])];
  try {
    const releases = await pruneReleases(ctx.service.installRoot, ctx.service.releases.keep, protect);
    const snapshots = await pruneSnapshots(ctx.paths.snapshots, ctx.service.snapshots.keep, ctx.record.snapshotId ? [ctx.record.snapshotId] : []);
    if (releases.length + snapshots.length > 0) ctx.logger.info({ releases, snapshots }, "pruned old releases and snapshots");
  } catch (err) {
    ctx.logger.warn({ err }, "pruning after commit failed; the upgrade itself is committed");
  }
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
    const safety = await createSnapshot(
      {
        service: ctx.service.name,
        dataDirs: [...ctx.service.dataDirs],
        snapshotsDir: ctx.paths.snapshots,
        compression: ctx.service.snapshots.compression,
        label: `before rollback to ${ctx.record.target}`,
      },
      { signal: ctx.signal, onProgress: ctx.onProgress },
    );
    await verifySnapshot(ctx.paths.snapshots, safety.id, { signal: ctx.signal });
    ctx.onProgress({ step: "rb-restore", message: `kept today's data as snapshot ${safety.id}` });
    safetySnapshotId = safety.id;
  }
  ctx.onProgress({ step: "rb-restore", message: `restoring snapshot ${ctx.record.snapshotId}` });
  await restoreSnapshot(ctx.paths.snapshots, ctx.record.snapshotId, { signal: ctx.signal, onProgress: ctx.onProgress });
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
  const cwd = releaseDir(ctx.service.installRoot, ctx.record.previousVersion);
  if (await alreadyServing(ctx.service.health.probes, { cwd, env: env(ctx), ...tracked(ctx, "probe") })) return;
  await runServiceHook(ctx, "start", ctx.service.hooks.start, ctx.record.previousVersion);
};

const rollbackVerify: StepFunction = async (ctx) => {
  if (!ctx.record.stopped || ctx.record.previousVersion === undefined) return;
  await verifyHealthy(ctx, ctx.record.previousVersion);
};

const rollbackRejoin: StepFunction = async (ctx) => {
  const hook = ctx.service.hooks.rejoin;
  if (!hook || !hasDrainHooks(ctx.record) || !ctx.record.drained) return;
  await runServiceHook(ctx, "rejoin", hook, ctx.record.previousVersion!);
};

/** The I/O of every step, by name; the transition table decides the order. */
export const STEP_FUNCTIONS: Record<StepName, StepFunction> = {
  stage,
  drain,
  stop,
  snapshot,
  switch: switchRelease,
  migrate,
  start,
  verify,
  rejoin,
  commit,
  "rb-stop": rollbackStop,
  "rb-restore": rollbackRestore,
  "rb-switch": rollbackSwitch,
  "rb-start": rollbackStart,
  "rb-verify": rollbackVerify,
  "rb-rejoin": rollbackRejoin,
};
