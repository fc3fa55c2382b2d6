import { EventEmitter } from "node:events";
import { join } from "node:path";
import { HoistError, toHoistError } from "../shared/errors/index.ts";
import { loadCatalog, planUpgradePath, serviceCatalog, findRelease, type Catalog } from "../shared/catalog/index.ts";
import type { Logger } from "../shared/logger/index.ts";
import type { WorkOptions } from "../shared/types/index.ts";
import { probesFor, type AgentConfig, type ProbePhase, type ServiceConfig } from "./config.ts";
import { HealthMonitor, alreadyServing, checkProbe, waitHealthy } from "./health/index.ts";
import { cleanPartials, listReleases, readCurrentVersion, readReleaseMeta, releaseDir, stageRelease } from "./release/index.ts";
import { listSnapshots, restoreBackups, restoreSnapshot, verifyBackups, verifySnapshot, type BackupSpec } from "./snapshot/index.ts";
import { takeVerifiedSnapshot } from "./services/take-snapshot.ts";
import { clearDrainSnapshot, recordDrainSnapshot } from "./services/drain-snapshot.ts";
import { peerEnv, type PeersInService } from "./services/peer-env.ts";
import { runHook } from "./exec/index.ts";
import { hookEnv } from "./services/hook-env.ts";
import { servicePaths, type ServicePaths } from "./services/service-paths.ts";
import { JournalStore } from "./upgrade/journal-store.ts";
import type { JournalHop, JournalRecord } from "./upgrade/journal-record.ts";
import { newJournal } from "./upgrade/new-journal.ts";
import { runJournal, finishJournal, type RunnerDeps } from "./upgrade/upgrade-runner.ts";
import { nextOnResume } from "./upgrade/transitions.ts";
import { isRollbackStep, isTerminal } from "./upgrade/transitions.ts";
import type { StepName } from "./upgrade/steps.ts";
import type { ClusterOnceGate } from "./upgrade/step-context.ts";
import { toSnapshotSummary } from "./services/snapshot-summary.ts";
import { OwnerLock } from "./state/owner-lock.ts";
import { ProcessLedger, type ReapedProcess } from "./state/process-ledger.ts";
import type { HookContext, ProcessTracker } from "./exec/index.ts";
import type {
  HostFacts,
  NodeAgentApi,
  NodeInventory,
  ReleaseOnDisk,
  ServiceActivity,
  ServiceInventory,
  ServingStatus,
  SnapshotSummary,
  UpgradeOutcome,
  UpgradeRequest,
} from "./node-agent-api.ts";

export const AGENT_VERSION = "0.1.0";

type ArtifactRef = { url: string; sha256: string; size?: number };

export interface NodeAgentOptions {
  logger: Logger;
  /** Host facts, read from a cache (the daemon wires HostFactsCache; the CLI may pass a one-off read). */
  hostFacts?: () => HostFacts;
  /** Catalog to use instead of loading config.catalog. */
  catalog?: Catalog;
  /** Cluster-wide lock for `cluster-once` migrations (the NATS bus provides it). */
  clusterOnce?: ClusterOnceGate;
  /** Crash tests only: SIGKILL this process at a journal boundary (`STEP:started|done`). */
  killAt?: string;
  /** Run background health monitors (the daemon does; one-shot CLI commands do not). */
  monitorHealth?: boolean;
  /**
   * owner (default): takes the state dir's owner lock at start (BUSY when another process holds it),
   * kills what a dead previous owner left running, and resumes interrupted operations. reader: only
   * reads (status, snapshot list/verify); never resumes, never runs a hook.
   */
  role?: "owner" | "reader";
  /** The cluster's peers in service, for HOIST_PEERS in hooks (the NATS bus reads them from the inventory). */
  peers?: PeersInService;
  /** Named in the owner lock so that a refused second writer can say who holds it (e.g. `hoist upgrade`). */
  command?: string;
}

interface ManagedService {
  config: ServiceConfig;
  paths: ServicePaths;
  store: JournalStore;
  monitor?: HealthMonitor;
  activity: ServiceActivity;
  /** The operation running now, with its idempotency key. */
  inFlight?: { key?: string; promise: Promise<UpgradeOutcome> };
}

const EMPTY_HOST: HostFacts = {
  hostname: "", os: "", kernel: "", arch: process.arch, cpuModel: "", cpuCores: 0, memTotalBytes: 0, memFreeBytes: 0, uptimeSeconds: 0, disks: [], readAt: "",
};

function activityOf(step: StepName): ServiceActivity {
  if (isRollbackStep(step)) return "rolling-back";
  if (step === "stage") return "staging";
  if (step === "drain") return "draining";
  return "upgrading";
}

/**
 * The agent of one node: owns its managed services and carries out every operation on them
 * (CLI, gRPC and NATS all call this). One operation per service at a time; every upgrade is
 * journaled and resumed or rolled back after a crash.
 */
export class NodeAgent implements NodeAgentApi {
  readonly node: string;
  readonly cluster: string;
  private readonly services = new Map<string, ManagedService>();
  private readonly events = new EventEmitter();
  private catalog: Catalog | undefined;
  private grpcAddress: string | undefined;
  private lock: OwnerLock | undefined;
  private ledger: ProcessLedger | undefined;
  private readonly resumed: UpgradeOutcome[] = [];
  private reaped: ReapedProcess[] = [];

  constructor(
    private readonly config: AgentConfig,
    private readonly options: NodeAgentOptions,
  ) {
    this.node = config.node;
    this.cluster = config.cluster;
    this.catalog = options.catalog;
    for (const service of config.services) {
      const paths = servicePaths(config, service);
      this.services.set(service.name, { config: service, paths, store: new JournalStore(paths), activity: "idle" });
    }
  }

  /**
   * Cleans staging leftovers, finishes or rolls back any operation a crash interrupted, then starts
   * the health monitors. Resolves when every interrupted operation has ended.
   */
  async start(): Promise<void> {
    if (this.options.role === "reader") return;
    this.lock = OwnerLock.acquire(this.config.stateDir, this.options.command ?? "hoist");
    this.ledger = new ProcessLedger(this.config.stateDir);
    this.reaped = await this.ledger.reapOrphans();
    for (const { entry, killed } of this.reaped) {
      if (killed.length > 0) this.options.logger.warn({ process: entry.label, argv: entry.argv, pids: killed, since: entry.startedAt }, "killed a process a previous agent left running");
    }
    for (const managed of this.services.values()) {
      await cleanPartials(managed.config.installRoot).catch(() => undefined);
      await this.resumeInterrupted(managed);
    }
    if (this.options.monitorHealth) {
      for (const [name, managed] of this.services) {
        const monitor = new HealthMonitor({
          probes: probesFor(managed.config, "monitor"),
          intervalMs: managed.config.health.monitorIntervalMs ?? Math.max(managed.config.health.intervalMs, 500),
          cwd: join(managed.config.installRoot, "current"),
          env: hookEnv(this.config, managed.config),
          ...this.child(managed, "monitor probe"),
        });
        monitor.on("change", (status: ServingStatus) => this.events.emit("health", name, status));
        managed.monitor = monitor;
        if (managed.activity !== "idle") monitor.hold("NOT_SERVING", managed.activity);
        monitor.start();
      }
    }
  }

  /** Stops the health monitors and lets the owner lock go. Operations in flight are left to their journal. */
  async stop(): Promise<void> {
    await Promise.all([...this.services.values()].map((managed) => managed.monitor?.stop()));
    this.lock?.release();
    this.lock = undefined;
  }

  /** Outcomes of the interrupted operations that start() finished (committed, rolled back or failed). */
  resumedOperations(): readonly UpgradeOutcome[] {
    return this.resumed;
  }

  /** Processes a dead previous owner left running that start() killed. */
  reapedProcesses(): readonly ReapedProcess[] {
    return this.reaped;
  }

  /** How a child process of `managed` (hook, probe) runs: written down when this agent owns the state dir, as the service's user. */
  private child(managed: ManagedService, what: string): { tracker?: ProcessTracker; user?: string } {
    return {
      ...(this.ledger ? { tracker: this.ledger.tracker(`${managed.config.name}: ${what}`) } : {}),
      ...(managed.config.user === undefined ? {} : { user: managed.config.user }),
    };
  }

  /** Refuses work in a reader (status, snapshot list): only the owner of the state dir changes anything. */
  private assertOwner(): void {
    if (!this.lock) throw new HoistError("WRONG_STATE", `this agent of ${this.config.stateDir} was opened read-only (or not started); only the owner of the state dir runs operations`);
  }

  private managed(name: string, access: "read" | "write" = "write"): ManagedService {
    if (access === "write") this.assertOwner();
    const managed = this.services.get(name);
    if (!managed) {
      throw new HoistError("NOT_FOUND", `service ${name} is not managed by this agent (has: ${[...this.services.keys()].join(", ")})`);
    }
    return managed;
  }

  private runnerDeps(managed: ManagedService): RunnerDeps {
    return {
      config: this.config,
      service: managed.config,
      paths: managed.paths,
      store: managed.store,
      logger: this.options.logger.child({ node: this.node, cluster: this.cluster, service: managed.config.name }),
      ...(this.options.clusterOnce ? { clusterOnce: this.options.clusterOnce } : {}),
      ...(this.options.killAt ? { killAt: this.options.killAt } : {}),
      onStep: (step) => this.setActivity(managed, activityOf(step)),
      ...(this.ledger ? { track: (label: string) => this.ledger!.tracker(label) } : {}),
      ...(this.options.peers ? { peers: this.options.peers } : {}),
    };
  }

  /**
   * Records what Hoist is doing to the service and holds its health NOT_SERVING while Hoist has it
   * out of service (drained, stopped, upgrading, rolling back); `idle` releases the hold. Staging
   * leaves the hold as it is: it takes nothing down, but must not release the hold of a Drain the
   * coordinator sent before an upgrade with skipDrain (the node is out of its cluster).
   */
  private setActivity(managed: ManagedService, activity: ServiceActivity): void {
    managed.activity = activity;
    if (!managed.monitor || activity === "staging") return;
    if (activity === "idle") managed.monitor.release();
    else managed.monitor.hold("NOT_SERVING", activity);
  }

  private async resumeInterrupted(managed: ManagedService): Promise<void> {
    const record = await managed.store.load();
    if (!record || record.halted) {
      if (record?.halted) managed.activity = "stopped";
      return;
    }
    const resumed: JournalRecord = { ...record, resumes: record.resumes + 1 };
    await managed.store.save(resumed);
    const deps = this.runnerDeps(managed);
    const next = nextOnResume({ step: record.step, stepStatus: record.stepStatus, stopped: record.stopped, resumes: resumed.resumes, ...(record.snapshotBefore ? { snapshotBefore: record.snapshotBefore } : {}) }, this.config.maxResumeAttempts);
    deps.logger.warn({ step: record.step, resumes: resumed.resumes, next }, "found an interrupted operation");
    if (next === "crash-loop") {
      const halted: JournalRecord = {
        ...resumed,
        error: resumed.error ?? { code: "CRASH_LOOP", message: `the agent restarted ${resumed.resumes} times inside this operation; stopped retrying`, step: record.step },
        rollbackError: { code: "CRASH_LOOP", message: `the loop breaker stopped after ${resumed.resumes} restarts at ${record.step}`, step: record.step },
      };
      this.resumed.push(await finishJournal(deps, halted, "failed"));
      managed.activity = "stopped";
      return;
    }
    if (isTerminal(next)) {
      this.resumed.push(await finishJournal(deps, resumed, next));
      return;
    }
    const rollingBack = isRollbackStep(next) && !isRollbackStep(record.step);
    const interrupted = rollingBack ? { ...resumed, error: resumed.error ?? { code: "INTERNAL", message: `the agent stopped during ${record.step}`, step: record.step } } : resumed;
    this.resumed.push(await this.track(managed, record.key, runJournal(deps, interrupted, next)));
  }

  private async track(managed: ManagedService, key: string | undefined, promise: Promise<UpgradeOutcome>): Promise<UpgradeOutcome> {
    managed.inFlight = { ...(key === undefined ? {} : { key }), promise };
    try {
      return await promise;
    } finally {
      managed.inFlight = undefined;
      this.setActivity(managed, "idle");
    }
  }

  private async catalogFor(service: string) {
    if (!this.catalog) {
      if (!this.config.catalog) {
        throw new HoistError("INVALID_ARGUMENT", "no catalog: set `catalog:` in the agent config or pass --catalog (or give the artifact with --artifact and --sha256)");
      }
      this.catalog = await loadCatalog(this.config.catalog);
    }
    return serviceCatalog(this.catalog, service);
  }

  /** Refuses when another operation holds the service or a halted journal waits for an operator. */
  private async assertIdle(managed: ManagedService): Promise<void> {
    if (managed.inFlight) throw new HoistError("BUSY", `service ${managed.config.name} is busy with another operation; wait for it or check \`hoist status\``);
    const journal = await managed.store.load();
    if (journal?.halted) {
      throw new HoistError("WRONG_STATE", `service ${managed.config.name} has a failed ${journal.kind} (at ${journal.step}) waiting for an operator: run \`hoist rollback\` first`);
    }
    if (journal) throw new HoistError("BUSY", `service ${managed.config.name} has an operation in progress (at ${journal.step})`);
  }

  async upgrade(request: UpgradeRequest & { skipMigrations?: string[] }, options: WorkOptions = {}): Promise<UpgradeOutcome> {
    const managed = this.managed(request.service);
    if (request.key !== undefined) {
      if (managed.inFlight?.key === request.key) return managed.inFlight.promise;
      const recorded = await managed.store.outcomeForKey(request.key);
      if (recorded) return recorded;
    }
    await this.assertIdle(managed);
    const current = await readCurrentVersion(managed.config.installRoot);
    if (current === request.to) {
      const now = new Date().toISOString();
      const outcome: UpgradeOutcome = { result: "noop", service: request.service, from: current, to: request.to, active: current, hops: [], startedAt: now, finishedAt: now };
      if (request.key !== undefined) await managed.store.recordOutcome(outcome, request.key);
      return outcome;
    }
    if (current !== undefined && managed.activity !== "stopped") await this.checkPreflight(managed, current);
    const hops = await this.planHops(request, current);
    const record = newJournal({
      kind: "upgrade",
      service: request.service,
      ...(current === undefined ? {} : { previousVersion: current }),
      target: request.to,
      hops,
      ...(request.key === undefined ? {} : { key: request.key }),
      skipDrain: request.skipDrain ?? false,
      skipMigrations: request.skipMigrations ?? [],
      snapshotBefore: managed.config.snapshots.before,
    });
    return this.track(managed, request.key, runJournal(this.runnerDeps(managed), record, "stage", options));
  }

  /**
   * The `preflight` probes must pass before an upgrade of a running service begins (a full-stop hop
   * stopped it on purpose: then they are not asked).
   * @throws HoistError PREFLIGHT_FAILED naming the failing probes.
   */
  private async checkPreflight(managed: ManagedService, version: string): Promise<void> {
    const probes = probesFor(managed.config, "preflight");
    if (probes.length === 0) return;
    const ctx = this.hookContext(managed, version, "preflight probe", undefined);
    const results = await Promise.all(probes.map((probe) => checkProbe(probe, ctx)));
    const failing = results.filter((result) => !result.healthy);
    if (failing.length > 0) {
      throw new HoistError("PREFLIGHT_FAILED", `${managed.config.name} is not healthy, so the upgrade was not started (nothing changed): ${failing.map((result) => `${result.probe} -> ${result.detail}`).join("; ")}`, {
        details: { failing },
      });
    }
  }

  private async planHops(request: UpgradeRequest, current: string | undefined): Promise<JournalHop[]> {
    if (request.release) {
      if (current !== request.release.from) {
        throw new HoistError("WRONG_STATE", `${request.service} runs ${current ?? "nothing"}, but the hop to ${request.to} starts from ${request.release.from}`, {
          details: { active: current, from: request.release.from },
        });
      }
      const migrations = request.release.migrations.map((migration) => ({ ...migration, run: [...migration.run] }));
      return [{ from: request.release.from, to: request.to, artifact: { ...request.release.artifact }, migrations }];
    }
    if (request.artifact) {
      return [{ from: current ?? "", to: request.to, artifact: { ...request.artifact }, migrations: [] }];
    }
    const catalog = await this.catalogFor(request.service);
    return planUpgradePath(catalog, current, request.to, { allowDowngrade: request.allowDowngrade ?? false }).map((hop) => ({
      from: hop.from,
      to: hop.to,
      artifact: { ...hop.release.artifact },
      migrations: hop.downgrade ? [] : hop.release.migrations.map((migration) => ({ ...migration, run: [...migration.run] })),
    }));
  }

  /**
   * Rolls the service back: a halted operation is rolled back from the start of its rollback; otherwise
   * the last committed upgrade is undone (a safety snapshot of today's data is taken first, then the
   * pre-upgrade snapshot restored and the previous release started).
   */
  async rollback(service: string, options: WorkOptions & { key?: string; to?: string } = {}): Promise<UpgradeOutcome> {
    const managed = this.managed(service);
    if (options.key !== undefined) {
      if (managed.inFlight?.key === options.key) return managed.inFlight.promise;
      const recorded = await managed.store.outcomeForKey(options.key);
      if (recorded) return recorded;
    }
    if (managed.inFlight) throw new HoistError("BUSY", `service ${service} is busy with another operation`);
    const journal = await managed.store.load();
    if (!journal && options.to !== undefined && (await readCurrentVersion(managed.config.installRoot)) === options.to) {
      const now = new Date().toISOString();
      const outcome: UpgradeOutcome = { result: "rolled-back", service, to: options.to, active: options.to, hops: [], startedAt: now, finishedAt: now };
      if (options.key !== undefined) await managed.store.recordOutcome(outcome, options.key);
      return outcome;
    }
    const deps = this.runnerDeps(managed);
    if (journal) {
      const retry: JournalRecord = { ...journal, halted: false, resumes: 0, rollbackError: undefined };
      return this.track(managed, journal.key, runJournal(deps, retry, "rb-stop", options));
    }
    const last = await managed.store.lastOutcome();
    if (!last || last.result !== "committed" || last.from === undefined || last.snapshotId === undefined) {
      throw new HoistError("WRONG_STATE", `nothing to roll back for ${service}: the last operation was ${last ? `${last.result} (${last.from ?? "fresh install"} -> ${last.to})` : "never run"}`);
    }
    const current = await readCurrentVersion(managed.config.installRoot);
    if (current !== last.to) {
      throw new HoistError("WRONG_STATE", `the active release of ${service} is ${current ?? "none"}, not ${last.to} from the last upgrade; refusing to roll back`);
    }
    const record = newJournal({
      kind: "rollback",
      service,
      previousVersion: last.from,
      target: last.from,
      hops: [],
      ...(options.key === undefined ? {} : { key: options.key }),
      skipDrain: true,
    });
    const withSnapshot: JournalRecord = { ...record, snapshotId: last.snapshotId };
    return this.track(managed, options.key, runJournal(deps, withSnapshot, "rb-stop", options));
  }

  /** Stages a release beside the active one; the artifact comes with the call (coordinator) or from the catalog. */
  async stage(service: string, version: string, options: WorkOptions & { artifact?: ArtifactRef } = {}): Promise<ReleaseOnDisk> {
    const managed = this.managed(service);
    const artifact = options.artifact ?? findRelease(await this.catalogFor(service), version).artifact;
    const staged = await stageRelease(
      { installRoot: managed.config.installRoot, version, artifact, cacheDir: managed.paths.artifacts, limits: managed.config.limits },
      options,
    );
    const active = (await readCurrentVersion(managed.config.installRoot)) === version;
    return { version, sha256: staged.sha256, active };
  }

  async snapshot(service: string, options: WorkOptions & { label?: string } = {}): Promise<SnapshotSummary> {
    const managed = this.managed(service);
    await this.assertIdle(managed);
    const version = await readCurrentVersion(managed.config.installRoot);
    const info = await takeVerifiedSnapshot({ service: managed.config, snapshotsDir: managed.paths.snapshots, version, label: options.label ?? "", backupContext: this.backupContext(managed, version, options.signal) }, options);
    return toSnapshotSummary(info);
  }

  async listSnapshots(service: string): Promise<SnapshotSummary[]> {
    const managed = this.managed(service, "read");
    const snapshots = await listSnapshots(managed.paths.snapshots, service);
    return snapshots.map(toSnapshotSummary);
  }

  async verifySnapshot(service: string, id: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service, "read");
    await verifySnapshot(managed.paths.snapshots, id, options);
    await verifyBackups(managed.paths.snapshots, id);
  }

  /**
   * Restores a snapshot: verifies it while the service still runs (a corrupt one is refused with the
   * service untouched), stops the service, makes the data dirs identical to the snapshot, starts and
   * verifies it. When anything fails after the stop, the service is started again and verified
   * before the error is thrown, so a refused restore never leaves it down.
   */
  async restore(service: string, snapshotId: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    await this.assertIdle(managed);
    options.onProgress?.({ step: "restore", message: `verifying snapshot ${snapshotId} before the service is stopped` });
    await verifySnapshot(managed.paths.snapshots, snapshotId, { ...(options.signal ? { signal: options.signal } : {}) });
    await verifyBackups(managed.paths.snapshots, snapshotId);
    const current = await readCurrentVersion(managed.config.installRoot);
    this.setActivity(managed, "stopped");
    try {
      try {
        if (current !== undefined) {
          options.onProgress?.({ step: "stop", message: "stopping the service" });
          await runHook("stop", managed.config.hooks.stop, await this.serviceHookContext(managed, current, "stop hook", options.signal));
        }
        await restoreSnapshot(managed.paths.snapshots, snapshotId, options);
        await restoreBackups(managed.config.backups, managed.paths.snapshots, snapshotId, "stopped", this.backupContext(managed, current, options.signal));
      } catch (err) {
        if (current !== undefined) {
          options.onProgress?.({ step: "start", message: `restore failed (${toHoistError(err).message}); starting the service again` });
          await this.startAndVerify(managed, current, options);
        }
        throw err;
      }
      if (current !== undefined) {
        await this.startAndVerify(managed, current, options);
        const { restored } = await restoreBackups(managed.config.backups, managed.paths.snapshots, snapshotId, "running", this.backupContext(managed, current, options.signal));
        if (restored.length > 0) await this.verifyPhase(managed, current, "verify", options);
      }
    } finally {
      this.setActivity(managed, "idle");
    }
  }

  /** Starts `version` unless it already serves, then waits until its probes hold healthy. */
  private async startAndVerify(managed: ManagedService, version: string, options: WorkOptions): Promise<void> {
    options.onProgress?.({ step: "start", message: "starting the service" });
    await this.startIfDown(managed, version, options.signal);
    await this.verifyPhase(managed, version, "verify", options);
  }

  /** Waits until the probes of `phase` hold healthy for minHealthyMs (none configured: returns at once). */
  private async verifyPhase(managed: ManagedService, version: string, phase: ProbePhase, options: WorkOptions): Promise<void> {
    const probes = probesFor(managed.config, phase);
    if (probes.length === 0) return;
    options.onProgress?.({ step: "verify", message: `waiting for the ${phase} probes to hold healthy` });
    const { minHealthyMs, healthyDeadlineMs, intervalMs } = managed.config.health;
    await waitHealthy(probes, {
      minHealthyMs,
      healthyDeadlineMs,
      intervalMs,
      cwd: releaseDir(managed.config.installRoot, version),
      env: hookEnv(this.config, managed.config),
      service: managed.config.name,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...this.child(managed, "probe"),
    });
  }

  private async startIfDown(managed: ManagedService, version: string, signal: AbortSignal | undefined): Promise<void> {
    if (await this.servesNow(managed, version)) return;
    await runHook("start", managed.config.hooks.start, await this.serviceHookContext(managed, version, "start hook", signal));
  }

  /** The context of a service hook (start, stop, drain, rejoin): as hookContext, plus HOIST_PEERS and HOIST_RELEASE_DIR. */
  private async serviceHookContext(managed: ManagedService, version: string, what: string, signal: AbortSignal | undefined): Promise<HookContext> {
    const ctx = this.hookContext(managed, version, what, signal);
    const peers = await peerEnv(this.options.peers, managed.config.name, this.options.logger);
    return { ...ctx, env: { ...ctx.env, HOIST_RELEASE_DIR: ctx.cwd, ...peers } };
  }

  private hookContext(managed: ManagedService, version: string | undefined, what: string, signal: AbortSignal | undefined): HookContext {
    return {
      cwd: version === undefined ? managed.config.installRoot : releaseDir(managed.config.installRoot, version),
      env: hookEnv(this.config, managed.config),
      ...(signal ? { signal } : {}),
      ...this.child(managed, what),
    };
  }

  /**
   * Starts the active release with its start hook unless every probe already passes (so a repeated
   * start is harmless), and lets the health monitor report it again.
   */
  async startService(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    if (managed.inFlight) throw new HoistError("BUSY", `service ${service} is busy with another operation`);
    const current = await readCurrentVersion(managed.config.installRoot);
    if (current === undefined) throw new HoistError("WRONG_STATE", `service ${service} has no active release to start`);
    await this.startIfDown(managed, current, options.signal);
    this.setActivity(managed, "idle");
  }

  /** Stops the service with its stop hook (a full-stop hop stops every node before upgrading any). */
  async stopService(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    await this.assertIdle(managed);
    const current = await readCurrentVersion(managed.config.installRoot);
    if (current === undefined) return;
    this.setActivity(managed, "stopped");
    await runHook("stop", managed.config.hooks.stop, await this.serviceHookContext(managed, current, "stop hook", options.signal));
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
  async drain(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    const hook = managed.config.hooks.drain;
    const current = await readCurrentVersion(managed.config.installRoot);
    if (!hook || current === undefined) return;
    await this.assertIdle(managed);
    let snapshotId: string | undefined;
    if (managed.config.snapshots.before === "drain") {
      options.onProgress?.({ step: "drain", message: "taking the snapshot before the drain (snapshots.before: drain)" });
      snapshotId = (await takeVerifiedSnapshot({ service: managed.config, snapshotsDir: managed.paths.snapshots, version: current, label: "before drain", backupContext: this.backupContext(managed, current, options.signal) }, options)).id;
      await recordDrainSnapshot(managed.paths, snapshotId, current);
    }
    this.setActivity(managed, "drained");
    try {
      await runHook("drain", hook, await this.serviceHookContext(managed, current, "drain hook", options.signal));
    } catch (err) {
      const error = toHoistError(err);
      if (error.code === "CANCELLED" || (await this.servesNow(managed, current))) throw error;
      const recovery = await this.recoverFromFailedDrain(managed, current, snapshotId, error);
      const how = recovery.result === "rolled-back"
        ? `Hoist ${snapshotId ? `restored snapshot ${snapshotId}, ` : "(no snapshot was taken before the drain: set snapshots.before: drain) "}started, verified and rejoined it`
        : `the recovery failed too (${recovery.error?.message ?? "unknown"}); the node waits for an operator: \`hoist rollback\``;
      throw new HoistError("HOOK_FAILED", `${error.message}; the service no longer served after the failed drain, so ${how}`, { cause: error, details: { ...error.details, recovery } });
    }
  }

  /** A journaled rollback of the node to `version` after a failed drain left it down (see drain). */
  private async recoverFromFailedDrain(managed: ManagedService, version: string, snapshotId: string | undefined, error: HoistError): Promise<UpgradeOutcome> {
    const record: JournalRecord = {
      ...newJournal({ kind: "rollback", service: managed.config.name, previousVersion: version, target: version, hops: [] }),
      drained: true,
      error: { code: error.code, message: error.message, step: "drain" },
      ...(snapshotId === undefined ? {} : { snapshotId }),
    };
    return this.track(managed, undefined, runJournal(this.runnerDeps(managed), record, "rb-stop"));
  }

  /** Puts the node back with the rejoin hook, then waits for the `afterRejoin` probes (membership), if any. */
  async rejoin(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    const hook = managed.config.hooks.rejoin;
    const current = await readCurrentVersion(managed.config.installRoot);
    await clearDrainSnapshot(managed.paths);
    if (!hook || current === undefined) return;
    await runHook("rejoin", hook, await this.serviceHookContext(managed, current, "rejoin hook", options.signal));
    await this.verifyPhase(managed, current, "afterRejoin", options);
    this.setActivity(managed, "idle");
  }

  private async servesNow(managed: ManagedService, version: string): Promise<boolean> {
    return alreadyServing(probesFor(managed.config, "verify"), this.hookContext(managed, version, "probe", undefined)).catch(() => false);
  }

  /** How a backup command of `managed` runs: in the release dir of `version`, with the service's env, written down, as its user. */
  private backupContext(managed: ManagedService, version: string | undefined, signal: AbortSignal | undefined): (spec: BackupSpec) => HookContext {
    return (spec) => this.hookContext(managed, version, `backup ${spec.name}`, signal);
  }

  health(service: string): ServingStatus {
    const managed = this.services.get(service);
    if (!managed) throw new HoistError("NOT_FOUND", `service ${service} is not managed by this agent`);
    return managed.monitor?.status ?? "UNKNOWN";
  }

  onHealthChange(listener: (service: string, status: ServingStatus) => void): () => void {
    this.events.on("health", listener);
    return () => this.events.off("health", listener);
  }

  /** The address the gRPC server listens on, published in the inventory for coordinators. */
  setGrpcAddress(address: string): void {
    this.grpcAddress = address;
  }

  async inventory(): Promise<NodeInventory> {
    const services = await Promise.all([...this.services.values()].map((managed) => this.serviceInventory(managed)));
    return {
      node: this.node,
      cluster: this.cluster,
      agentVersion: AGENT_VERSION,
      ...(this.grpcAddress === undefined ? {} : { grpcAddress: this.grpcAddress }),
      services,
      host: this.options.hostFacts?.() ?? EMPTY_HOST,
    };
  }

  /** What a reader sees of the owner's work: the activity its journal names. */
  private async activityOnDisk(managed: ManagedService): Promise<ServiceActivity> {
    const journal = await managed.store.load();
    if (!journal) return "idle";
    return journal.halted ? "stopped" : activityOf(journal.step);
  }

  private async serviceInventory(managed: ManagedService): Promise<ServiceInventory> {
    const { installRoot } = managed.config;
    const [active, releases, snapshots, lastUpgrade] = await Promise.all([
      readCurrentVersion(installRoot),
      listReleases(installRoot),
      listSnapshots(managed.paths.snapshots, managed.config.name),
      managed.store.lastOutcome(),
    ]);
    const activeMeta = active === undefined ? undefined : await readReleaseMeta(installRoot, active).catch(() => undefined);
    return {
      name: managed.config.name,
      ...(active === undefined ? {} : { activeVersion: active }),
      ...(activeMeta?.sha256 === undefined ? {} : { activeSha256: activeMeta.sha256 }),
      releases: releases.map((release) => ({
        version: release.version,
        ...(release.sha256 === undefined ? {} : { sha256: release.sha256 }),
        ...(release.stagedAt === undefined ? {} : { stagedAt: release.stagedAt }),
        active: release.active,
      })),
      snapshots: snapshots.map(toSnapshotSummary),
      ...(lastUpgrade === undefined ? {} : { lastUpgrade }),
      health: managed.monitor?.status ?? "UNKNOWN",
      activity: this.lock ? managed.activity : await this.activityOnDisk(managed),
    };
  }
}
