import { EventEmitter } from "node:events";
import { join } from "node:path";
import { HoistError } from "../shared/errors/index.ts";
import { loadCatalog, serviceCatalog, findRelease, type Catalog, type ServiceCatalog } from "../shared/catalog/index.ts";
import type { Logger } from "../shared/logger/index.ts";
import type { WorkOptions } from "../shared/types/index.ts";
import type { Artifact } from "../shared/wire/index.ts";
import { probesFor, type AgentConfig } from "./config.ts";
import { HealthMonitor } from "./health/index.ts";
import { cleanPartials, readCurrentVersion, stageRelease } from "./release/index.ts";
import { listSnapshots, verifyBackups, verifySnapshot } from "./snapshot/index.ts";
import { hookEnv } from "./services/hook-env.ts";
import { servicePaths } from "./services/service-paths.ts";
import { activityOf, assertIdle, setActivity, trackOperation, type ManagedService } from "./services/managed-service.ts";
import { ServiceHooks } from "./services/service-hooks.ts";
import { ServiceControl } from "./services/service-control.ts";
import { diskInventoryCache, readServiceInventory } from "./services/service-inventory.ts";
import { takeVerifiedSnapshot } from "./services/take-snapshot.ts";
import { toSnapshotSummary } from "./services/snapshot-summary.ts";
import type { PeersInService } from "./services/peer-env.ts";
import { OwnerLock } from "./state/owner-lock.ts";
import { AGENT_VERSION } from "./version.ts";
import { collectGarbageSoon } from "./memory/collect-garbage.ts";
import { ProcessLedger, type ReapedProcess } from "./state/process-ledger.ts";
import type { HostFacts, NodeAgentApi, NodeInventory, ReleaseOnDisk, ServingStatus, SnapshotSummary, UpgradeOutcome, UpgradeRequest } from "./node-agent-api.ts";
import { JournalStore, newJournal, runJournal, resumeJournal, planHops, decideRollback, decideUpgrade, type JournalRecord, type RunnerDeps, type OperationView, type ClusterOnceGate } from "./upgrade/index.ts";
import { applyRetention, dropPendingFinalize, readFinalizeState, writeFinalizeState, type FinalizedUpgrade } from "./upgrade/index.ts";

export { AGENT_VERSION } from "./version.ts";

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

/**
 * Forgets the service's cached disk inventory once `work` (a change the agent makes) has ended,
 * however it ended, and has the memory it took collected soon after.
 */
async function changing<T>(managed: ManagedService, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } finally {
    managed.inventory.invalidate();
    collectGarbageSoon();
  }
}

const EMPTY_HOST: HostFacts = {
  hostname: "",
  os: "",
  kernel: "",
  arch: process.arch,
  cpuModel: "",
  cpuCores: 0,
  memTotalBytes: 0,
  memFreeBytes: 0,
  uptimeSeconds: 0,
  disks: [],
  readAt: "",
};

/**
 * The agent of one node: owns its managed services and carries out every operation on them (CLI,
 * gRPC and NATS all call this). One operation per service at a time; every upgrade is journaled and
 * resumed or rolled back after a crash, by the one process that owns the state dir. The decisions
 * live in agent/upgrade (transition table, decideUpgrade, decideRollback); the service's own hooks
 * outside an upgrade in ServiceControl; this class wires them to the journal and the lock.
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
  private hooks: ServiceHooks;
  private control: ServiceControl;
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
      const store = new JournalStore(paths);
      this.services.set(service.name, { config: service, paths, store, inventory: diskInventoryCache(service, paths, store), activity: "idle" });
    }
    this.hooks = new ServiceHooks(config, options.logger, undefined, options.peers);
    this.control = new ServiceControl(this.hooks, (managed, record) => this.runTracked(managed, record, "rb-stop"));
  }

  /**
   * An owner takes the lock, kills what a dead previous owner left running, cleans staging leftovers,
   * finishes or rolls back any interrupted operation, then starts the health monitors. Resolves when
   * every interrupted operation has ended. A reader does nothing.
   * @throws HoistError BUSY when another process owns the state dir.
   */
  async start(): Promise<void> {
    if (this.options.role === "reader") return;
    this.lock = OwnerLock.acquire(this.config.stateDir, this.options.command ?? "hoist");
    this.ledger = new ProcessLedger(this.config.stateDir);
    this.hooks = new ServiceHooks(this.config, this.options.logger, this.ledger, this.options.peers);
    this.control = new ServiceControl(this.hooks, (managed, record) => this.runTracked(managed, record, "rb-stop"));
    this.reaped = await this.ledger.reapOrphans();
    for (const { entry, killed } of this.reaped) {
      if (killed.length > 0) this.options.logger.warn({ process: entry.label, argv: entry.argv, pids: killed, since: entry.startedAt }, "killed a process a previous agent left running");
    }
    for (const managed of this.services.values()) {
      await cleanPartials(managed.config.installRoot).catch(() => undefined);
      const journal = await managed.store.load();
      if (journal?.halted) managed.activity = "stopped";
      if (!journal) continue;
      const outcome = await resumeJournal(this.runnerDeps(managed), journal, this.config.maxResumeAttempts, (key, run) => trackOperation(managed, key, run));
      if (outcome) this.resumed.push(outcome);
      if (outcome?.result === "failed") managed.activity = "stopped";
      managed.inventory.invalidate();
    }
    if (this.options.monitorHealth) for (const managed of this.services.values()) this.startMonitor(managed);
  }

  private startMonitor(managed: ManagedService): void {
    const monitor = new HealthMonitor({
      probes: probesFor(managed.config, "monitor"),
      intervalMs: managed.config.health.monitorIntervalMs ?? Math.max(managed.config.health.intervalMs, 500),
      cwd: join(managed.config.installRoot, "current"),
      env: hookEnv(this.config, managed.config),
      ...this.hooks.child(managed, "monitor probe"),
    });
    monitor.on("change", (status: ServingStatus) => this.events.emit("health", managed.config.name, status));
    managed.monitor = monitor;
    if (managed.activity !== "idle") monitor.hold("NOT_SERVING", managed.activity);
    monitor.start();
  }

  /** Stops the health monitors and lets the owner lock go. Operations in flight are left to their journal. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.services.values()].map(async (managed) => {
        await managed.monitor?.stop();
      }),
    );
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

  /**
   * The service by name. Changing it needs the owner lock: a reader (status, snapshot list) refuses.
   * @throws HoistError NOT_FOUND, WRONG_STATE (opened read-only or not started).
   */
  private managed(name: string, access: "read" | "write" = "write"): ManagedService {
    if (access === "write" && !this.lock) {
      throw new HoistError("WRONG_STATE", `this agent of ${this.config.stateDir} was opened read-only (or not started); only the owner of the state dir runs operations`);
    }
    const managed = this.services.get(name);
    if (!managed) throw new HoistError("NOT_FOUND", `service ${name} is not managed by this agent (has: ${[...this.services.keys()].join(", ")})`);
    return managed;
  }

  private runnerDeps(managed: ManagedService): RunnerDeps {
    const ledger = this.ledger;
    return {
      config: this.config,
      service: managed.config,
      paths: managed.paths,
      store: managed.store,
      logger: this.options.logger.child({ node: this.node, cluster: this.cluster, service: managed.config.name }),
      ...(this.options.clusterOnce ? { clusterOnce: this.options.clusterOnce } : {}),
      ...(this.options.killAt ? { killAt: this.options.killAt } : {}),
      onStep: (step) => {
        managed.inventory.invalidate();
        setActivity(managed, activityOf(step));
      },
      ...(ledger ? { track: (label: string) => ledger.tracker(label) } : {}),
      ...(this.options.peers ? { peers: this.options.peers } : {}),
    };
  }

  /** Runs a journal from `first` as the service's operation in flight. */
  private runTracked(managed: ManagedService, record: JournalRecord, first: "stage" | "rb-stop", options: WorkOptions = {}): Promise<UpgradeOutcome> {
    return changing(managed, trackOperation(managed, record.key, runJournal(this.runnerDeps(managed), record, first, options)));
  }

  /** The recorded outcome of a repeated request (same idempotency key), or the run it is still waiting for. */
  private async recordedOutcome(managed: ManagedService, key: string | undefined): Promise<UpgradeOutcome | undefined> {
    if (key === undefined) return undefined;
    if (managed.inFlight?.key === key) return managed.inFlight.promise;
    return managed.store.outcomeForKey(key);
  }

  private async operationView(managed: ManagedService): Promise<OperationView> {
    const [journal, current, last, finalize] = await Promise.all([managed.store.load(), readCurrentVersion(managed.config.installRoot), managed.store.lastOutcome(), readFinalizeState(managed.paths.finalize)]);
    return {
      inFlight: managed.inFlight !== undefined,
      ...(journal ? { journal } : {}),
      ...(current === undefined ? {} : { current }),
      ...(last ? { last } : {}),
      finalized: finalize.finalized,
    };
  }

  private async catalogFor(service: string): Promise<ServiceCatalog> {
    if (!this.catalog) {
      if (!this.config.catalog) {
        throw new HoistError("INVALID_ARGUMENT", "no catalog: set `catalog:` in the agent config or pass --catalog (or give the artifact with --artifact and --sha256)");
      }
      this.catalog = await loadCatalog(this.config.catalog);
    }
    return serviceCatalog(this.catalog, service);
  }

  /** Uses `catalog` from now on (the unattended loop hands over the catalog pushed to KV). */
  useCatalog(catalog: Catalog): void {
    this.catalog = catalog;
  }

  async upgrade(request: UpgradeRequest & { skipMigrations?: string[] }, options: WorkOptions = {}): Promise<UpgradeOutcome> {
    const managed = this.managed(request.service);
    const recorded = await this.recordedOutcome(managed, request.key);
    if (recorded) return recorded;
    const view = await this.operationView(managed);
    const decision = decideUpgrade(view, request.service, request.to);
    if (decision.action === "refuse") throw new HoistError(decision.code, decision.message);
    const { current } = view;
    if (decision.action === "noop") {
      const now = new Date().toISOString();
      const outcome: UpgradeOutcome = { result: "noop", service: request.service, from: request.to, to: request.to, active: request.to, hops: [], startedAt: now, finishedAt: now };
      if (request.key !== undefined) await changing(managed, managed.store.recordOutcome(outcome, request.key));
      return outcome;
    }
    // A full-stop hop stopped the service on purpose: then the preflight probes are not asked.
    if (current !== undefined && managed.activity !== "stopped") await this.hooks.checkPreflight(managed, current);
    const hops = await planHops(request, current, () => this.catalogFor(request.service));
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
      validate: managed.config.validate !== undefined,
      canReload: managed.config.hooks.reload !== undefined,
    });
    return this.runTracked(managed, record, "stage", options);
  }

  /**
   * Rolls the service back: a pending (halted) operation is rolled back again from rb-stop;
   * otherwise the last committed upgrade is undone (a safety snapshot of today's data is taken
   * first, then the pre-upgrade snapshot restored and the previous release started).
   */
  async rollback(service: string, options: WorkOptions & { key?: string; to?: string } = {}): Promise<UpgradeOutcome> {
    const managed = this.managed(service);
    const recorded = await this.recordedOutcome(managed, options.key);
    if (recorded) return recorded;
    const view = await this.operationView(managed);
    const decision = decideRollback(view, service, options.to);
    switch (decision.action) {
      case "refuse":
        throw new HoistError(decision.code, decision.message);
      case "already-there": {
        const now = new Date().toISOString();
        const outcome: UpgradeOutcome = { result: "rolled-back", service, to: decision.to, active: decision.to, hops: [], startedAt: now, finishedAt: now };
        if (options.key !== undefined) await changing(managed, managed.store.recordOutcome(outcome, options.key));
        return outcome;
      }
      case "retry-journal": {
        const journal = await managed.store.load();
        if (!journal) throw new HoistError("CONFLICT", `the pending operation of ${service} ended meanwhile; run the rollback again`);
        return this.runTracked(managed, { ...journal, halted: false, resumes: 0, rollbackError: undefined }, "rb-stop", options);
      }
      case "undo-last": {
        const record = newJournal({ kind: "rollback", service, previousVersion: decision.to, target: decision.to, hops: [], ...(options.key === undefined ? {} : { key: options.key }), skipDrain: true });
        const outcome = await this.runTracked(managed, { ...record, snapshotId: decision.snapshotId, ...(view.current === undefined ? {} : { activeBefore: view.current }) }, "rb-stop", options);
        if (outcome.result === "rolled-back") await dropPendingFinalize(managed.paths.finalize, decision.snapshotId);
        return outcome;
      }
    }
  }

  /**
   * `hoist finalize`: makes the permanent migrations of every upgrade waiting for it final. From now
   * on rollback to before those releases is refused (FINALIZED), and the releases and snapshots kept
   * only for such a rollback are removed by the service's retention (`releases.keep`, `snapshots.keep`).
   * @throws HoistError WRONG_STATE when nothing waits for finalize, BUSY during another operation.
   */
  async finalize(service: string): Promise<{ finalized: FinalizedUpgrade[]; removed: { releases: string[]; snapshots: string[] } }> {
    const managed = this.managed(service);
    await assertIdle(managed);
    const state = await readFinalizeState(managed.paths.finalize);
    if (state.pending.length === 0)
      throw new HoistError("WRONG_STATE", `nothing to finalize for ${service}: no upgrade with permanent migrations is waiting (finalized so far: ${state.finalized.map((done) => done.release).join(", ") || "none"})`);
    const at = new Date().toISOString();
    const finalized = state.pending.map((pending) => ({ release: pending.release, before: pending.before, at }));
    await writeFinalizeState(managed.paths.finalize, { pending: [], finalized: [...state.finalized, ...finalized] });
    const current = await readCurrentVersion(managed.config.installRoot);
    const view = await this.operationView(managed);
    const rollback = decideRollback(view, service);
    const removed = await applyRetention({
      installRoot: managed.config.installRoot,
      snapshotsDir: managed.paths.snapshots,
      keepReleases: managed.config.releases.keep,
      keepSnapshots: managed.config.snapshots.keep,
      protectReleases: [...(current ? [current] : []), ...(rollback.action === "undo-last" ? [rollback.to] : [])],
      protectSnapshots: rollback.action === "undo-last" ? [rollback.snapshotId] : [],
    });
    this.options.logger.info({ service, finalized, removed }, "finalized");
    return { finalized, removed };
  }

  /** Stages a release beside the active one; the artifact comes with the call (coordinator) or from the catalog. */
  async stage(service: string, version: string, options: WorkOptions & { artifact?: Artifact } = {}): Promise<ReleaseOnDisk> {
    const managed = this.managed(service);
    const artifact = options.artifact ?? findRelease(await this.catalogFor(service), version).artifact;
    const staged = await changing(managed, stageRelease({ installRoot: managed.config.installRoot, version, artifact, cacheDir: managed.paths.artifacts, limits: managed.config.limits }, options));
    const active = (await readCurrentVersion(managed.config.installRoot)) === version;
    return { version, sha256: staged.sha256, active };
  }

  /** A verified snapshot of the service's data dirs and backups, taken now (the service keeps running). */
  async snapshot(service: string, options: WorkOptions & { label?: string } = {}): Promise<SnapshotSummary> {
    const managed = this.managed(service);
    await assertIdle(managed);
    const version = await readCurrentVersion(managed.config.installRoot);
    const backupContext = this.hooks.backupContext(managed, version, options.signal);
    const info = await changing(managed, takeVerifiedSnapshot({ service: managed.config, snapshotsDir: managed.paths.snapshots, version, label: options.label ?? "", backupContext }, options));
    return toSnapshotSummary(info);
  }

  async listSnapshots(service: string): Promise<SnapshotSummary[]> {
    const managed = this.managed(service, "read");
    return (await listSnapshots(managed.paths.snapshots, service)).map(toSnapshotSummary);
  }

  /** Checks a snapshot's archives against its manifest and its backups against their sha256. */
  async verifySnapshot(service: string, id: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service, "read");
    await verifySnapshot(managed.paths.snapshots, id, options);
    await verifyBackups(managed.paths.snapshots, id);
  }

  /** See ServiceControl.restore: verified before the stop, the service started again whatever fails. */
  async restore(service: string, snapshotId: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    await changing(managed, this.control.restore(managed, snapshotId, options));
  }

  /** Starts the active release unless it already serves (a repeated start is harmless). */
  async startService(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    await changing(managed, this.control.start(managed, options));
  }

  /** Stops the service with its stop hook (a full-stop hop stops every node before upgrading any). */
  async stopService(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    await changing(managed, this.control.stop(managed, options));
  }

  /** See ServiceControl.drain: snapshot first with `snapshots.before: drain`; recovery after a damaging failure. */
  async drain(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    await changing(managed, this.control.drain(managed, options));
  }

  /** Puts the node back into service, then waits for the afterRejoin probes. */
  async rejoin(service: string, options: WorkOptions = {}): Promise<void> {
    const managed = this.managed(service);
    await changing(managed, this.control.rejoin(managed, options));
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
    const services = await Promise.all([...this.services.values()].map((managed) => readServiceInventory(managed, this.lock !== undefined)));
    return {
      node: this.node,
      cluster: this.cluster,
      agentVersion: AGENT_VERSION,
      ...(this.grpcAddress === undefined ? {} : { grpcAddress: this.grpcAddress }),
      services,
      host: this.options.hostFacts?.() ?? EMPTY_HOST,
    };
  }
}
