import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { NodeAgentApi, NodeInventory, ReleaseOnDisk, ServiceActivity, ServingStatus, SnapshotSummary, UpgradeOutcome, UpgradeRequest } from "../../agent/node-agent-api.ts";
import { HoistError } from "../../shared/errors/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { drawMs, type SimStep, type StepTimings } from "./timing.ts";

/** What a simulated agent did for one command (the bench's raw data). */
export interface StepRecord {
  node: string;
  verb: SimStep;
  key?: string;
  /** Wall clock (ms since epoch) when the agent began the work, and when it was done. */
  startedAt: number;
  finishedAt: number;
  /** The time drawn for the work (what the agent "spent"); finishedAt - startedAt is this plus timer slack. */
  drawnMs: number;
  result: string;
}

export interface SimNodeAgentOptions {
  node: string;
  cluster: string;
  service: string;
  version: string;
  timings: StepTimings;
  random: () => number;
  agentVersion: string;
  /** Chance (0..1) that an upgrade fails after stop and is rolled back by the agent itself. */
  upgradeFailRate?: number;
  /** Receives a record of every step of work. */
  onStep?: (record: StepRecord) => void;
}

/** Parts of the upgrade as a real agent reports them in progress events, with their share of its time. */
const UPGRADE_PARTS: readonly [string, number][] = [
  ["stop", 0.1],
  ["snapshot", 0.35],
  ["switch", 0.05],
  ["migrate", 0.2],
  ["start", 0.15],
  ["verify", 0.15],
];

const SHA_OF = (version: string): string => {
  let hash = "";
  for (let index = 0; hash.length < 64; index++) hash += ((version.charCodeAt(index % version.length) * 31 + index * 7) % 16).toString(16);
  return hash;
};

/**
 * A node agent without a node: the NodeAgentApi of the real agent kept in memory, each operation
 * taking a time drawn from `timings`. It keeps the agent's contract where the coordinator can see
 * it: one operation at a time per service (BUSY otherwise), a repeated idempotency key returns the
 * recorded outcome or attaches to the run still going, an upgrade refuses a hop that does not start
 * from the active version (WRONG_STATE), a conditional rollback to the version already active is a
 * noop, health goes NOT_SERVING from stop to start and back to SERVING (grpc.health.v1 watchers see
 * it), and the inventory shows releases, activity, health and the last upgrade.
 *
 * The wire side is not simulated: the fleet runs the real AgentBus and the real gRPC server on it.
 */
export class SimNodeAgent implements NodeAgentApi {
  readonly node: string;
  readonly cluster: string;
  private activeVersion: string;
  private readonly releases = new Map<string, ReleaseOnDisk>();
  private status: ServingStatus = "SERVING";
  private activity: ServiceActivity = "idle";
  private lastUpgrade: UpgradeOutcome | undefined;
  private busy: string | undefined;
  private readonly byKey = new Map<string, Promise<unknown>>();
  private readonly events = new EventEmitter();
  private grpcAddress: string | undefined;
  private readonly bootedAt = Date.now();

  constructor(private readonly options: SimNodeAgentOptions) {
    this.node = options.node;
    this.cluster = options.cluster;
    this.activeVersion = options.version;
    this.releases.set(options.version, { version: options.version, sha256: SHA_OF(options.version), active: true });
    this.events.setMaxListeners(0);
  }

  setGrpcAddress(address: string): void {
    this.grpcAddress = address;
  }

  async inventory(): Promise<NodeInventory> {
    const { service } = this.options;
    return {
      node: this.node,
      cluster: this.cluster,
      agentVersion: this.options.agentVersion,
      ...(this.grpcAddress === undefined ? {} : { grpcAddress: this.grpcAddress }),
      services: [
        {
          name: service,
          activeVersion: this.activeVersion,
          activeSha256: this.releases.get(this.activeVersion)?.sha256 ?? SHA_OF(this.activeVersion),
          releases: [...this.releases.values()].map((release) => ({ ...release, active: release.version === this.activeVersion })),
          snapshots: [],
          ...(this.lastUpgrade ? { lastUpgrade: this.lastUpgrade } : {}),
          health: this.status,
          activity: this.activity,
        },
      ],
      host: {
        hostname: `sim-${this.node}`,
        os: "Hoist fleet simulator",
        kernel: "sim",
        arch: process.arch,
        cpuModel: "simulated",
        cpuCores: 4,
        memTotalBytes: 8 * 1024 ** 3,
        memFreeBytes: 4 * 1024 ** 3,
        uptimeSeconds: Math.round((Date.now() - this.bootedAt) / 1000),
        disks: [{ path: `/srv/${service}`, freeBytes: 100 * 1024 ** 3, totalBytes: 200 * 1024 ** 3 }],
        readAt: new Date().toISOString(),
      },
    };
  }

  async stage(service: string, version: string, options: WorkOptions & { artifact?: { url: string; sha256: string; size?: number } } = {}): Promise<ReleaseOnDisk> {
    this.managed(service);
    const staged = this.releases.get(version);
    if (staged) return { ...staged, active: version === this.activeVersion };
    return this.exclusive("stage", undefined, options.signal, async (drawn) => {
      this.activity = "staging";
      options.onProgress?.({ step: "stage", message: `fetching ${version}`, bytes: 0, totalBytes: options.artifact?.size ?? 0, percent: 0 });
      await sleep(drawn, undefined, { signal: options.signal });
      const release: ReleaseOnDisk = { version, sha256: options.artifact?.sha256 ?? SHA_OF(version), stagedAt: new Date().toISOString(), active: false };
      this.releases.set(version, release);
      options.onProgress?.({ step: "stage", message: `staged ${version}`, percent: 100 });
      this.activity = "idle";
      return release;
    });
  }

  async snapshot(service: string): Promise<SnapshotSummary> {
    this.managed(service);
    throw new HoistError("INVALID_ARGUMENT", "the fleet simulator takes no snapshots on request");
  }

  async listSnapshots(service: string): Promise<SnapshotSummary[]> {
    this.managed(service);
    return [];
  }

  async restore(service: string): Promise<void> {
    this.managed(service);
    throw new HoistError("INVALID_ARGUMENT", "the fleet simulator has no snapshots to restore");
  }

  async upgrade(request: UpgradeRequest, options: WorkOptions = {}): Promise<UpgradeOutcome> {
    this.managed(request.service);
    return this.keyed(request.key, () => {
      if (request.to === this.activeVersion) return Promise.resolve(this.outcome("noop", request.to, this.activeVersion, Date.now()));
      if (request.release && request.release.from !== this.activeVersion) {
        throw new HoistError("WRONG_STATE", `${request.service} runs ${this.activeVersion}, but the hop to ${request.to} starts from ${request.release.from}`);
      }
      if (!this.releases.has(request.to) && !request.release && !request.artifact) {
        throw new HoistError("INVALID_ARGUMENT", `no release ${request.to}: stage it or send the hop`);
      }
      return this.exclusive("upgrade", request.key, options.signal, async (drawn) => {
        const startedAt = Date.now();
        const from = this.activeVersion;
        const fails = (this.options.upgradeFailRate ?? 0) > 0 && this.options.random() < this.options.upgradeFailRate!;
        this.activity = "upgrading";
        for (const [part, share] of UPGRADE_PARTS) {
          options.onProgress?.({ step: part, message: `${part} started` });
          if (part === "stop") this.setHealth("NOT_SERVING");
          await sleep(Math.round(drawn * share), undefined, { signal: options.signal });
          if (fails && part === "migrate") {
            options.onProgress?.({ step: part, message: `${part} failed: simulated failure` });
            this.setHealth("SERVING");
            this.activity = "idle";
            const outcome = this.outcome("rolled-back", request.to, from, startedAt, { code: "MIGRATION_FAILED", message: `simulated failure of migrate on ${this.node}` }, from);
            this.lastUpgrade = outcome;
            return outcome;
          }
          if (part === "switch") {
            this.releases.set(request.to, this.releases.get(request.to) ?? { version: request.to, sha256: request.release?.artifact.sha256 ?? SHA_OF(request.to), active: false });
            this.activeVersion = request.to;
          }
          if (part === "start") this.setHealth("SERVING");
          options.onProgress?.({ step: part, message: `${part} done` });
        }
        this.activity = "idle";
        const outcome = this.outcome("committed", request.to, from, startedAt);
        this.lastUpgrade = outcome;
        return outcome;
      });
    });
  }

  async rollback(service: string, options: WorkOptions & { key?: string; to?: string } = {}): Promise<UpgradeOutcome> {
    this.managed(service);
    return this.keyed(options.key, () => {
      if (options.to !== undefined && options.to === this.activeVersion) return Promise.resolve(this.outcome("noop", options.to, this.activeVersion, Date.now()));
      const last = this.lastUpgrade;
      if (!last || last.result !== "committed" || last.from === undefined) {
        throw new HoistError("WRONG_STATE", `nothing to roll back for ${service}: the last operation was ${last ? `${last.result}` : "never run"}`);
      }
      return this.exclusive("rollback", options.key, options.signal, async (drawn) => {
        const startedAt = Date.now();
        const from = this.activeVersion;
        this.activity = "rolling-back";
        this.setHealth("NOT_SERVING");
        options.onProgress?.({ step: "restore", message: "restore started" });
        await sleep(drawn, undefined, { signal: options.signal });
        this.activeVersion = last.from!;
        this.setHealth("SERVING");
        this.activity = "idle";
        options.onProgress?.({ step: "restore", message: "restore done" });
        const outcome = this.outcome("rolled-back", last.from!, from, startedAt, undefined, last.from);
        this.lastUpgrade = outcome;
        return outcome;
      });
    });
  }

  async drain(service: string, options: WorkOptions = {}): Promise<void> {
    this.managed(service);
    await this.exclusive("drain", undefined, options.signal, async (drawn) => {
      this.activity = "draining";
      await sleep(drawn, undefined, { signal: options.signal });
      this.activity = "drained";
    });
  }

  async rejoin(service: string, options: WorkOptions = {}): Promise<void> {
    this.managed(service);
    await this.exclusive("rejoin", undefined, options.signal, async (drawn) => {
      await sleep(drawn, undefined, { signal: options.signal });
      this.activity = "idle";
    });
  }

  /** The bus's `stop` verb (full-stop hops). */
  async stopService(service: string, signal?: AbortSignal): Promise<void> {
    this.managed(service);
    await this.exclusive("stop", undefined, signal, async (drawn) => {
      this.setHealth("NOT_SERVING");
      await sleep(drawn, undefined, { signal });
      this.activity = "stopped";
    });
  }

  /** The bus's `start` verb. */
  async startService(service: string, signal?: AbortSignal): Promise<void> {
    this.managed(service);
    await this.exclusive("start", undefined, signal, async (drawn) => {
      await sleep(drawn, undefined, { signal });
      this.activity = "idle";
      this.setHealth("SERVING");
    });
  }

  health(service: string): ServingStatus {
    this.managed(service);
    return this.status;
  }

  onHealthChange(listener: (service: string, status: ServingStatus) => void): () => void {
    this.events.on("health", listener);
    return () => this.events.off("health", listener);
  }

  private setHealth(status: ServingStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.events.emit("health", this.options.service, status);
  }

  private managed(service: string): void {
    if (service !== this.options.service) {
      throw new HoistError("NOT_FOUND", `service ${service} is not managed by this agent (has: ${this.options.service})`);
    }
  }

  /** A repeated key gets the recorded outcome or attaches to the run still going; a failed run is forgotten. */
  private keyed<T>(key: string | undefined, run: () => Promise<T>): Promise<T> {
    if (key === undefined) return run();
    const known = this.byKey.get(key) as Promise<T> | undefined;
    if (known) return known;
    const started = run();
    this.byKey.set(key, started);
    started.catch(() => this.byKey.delete(key));
    return started;
  }

  /** One operation at a time (BUSY otherwise), its duration drawn for `verb`, its record reported. */
  private async exclusive<T>(verb: SimStep, key: string | undefined, signal: AbortSignal | undefined, work: (drawnMs: number) => Promise<T>): Promise<T> {
    if (this.busy) throw new HoistError("BUSY", `service ${this.options.service} is busy with ${this.busy}; wait for it`);
    this.busy = verb;
    const drawnMs = drawMs(this.options.timings[verb], this.options.random);
    const startedAt = Date.now();
    let result = "ok";
    try {
      const value = await work(drawnMs);
      if (value && typeof value === "object" && "result" in value) result = String((value as { result: unknown }).result);
      return value;
    } catch (err) {
      result = err instanceof HoistError ? err.code : "error";
      if (signal?.aborted) throw new HoistError("CANCELLED", "the operation was cancelled", { cause: err });
      throw err;
    } finally {
      this.busy = undefined;
      this.options.onStep?.({ node: this.node, verb, ...(key ? { key } : {}), startedAt, finishedAt: Date.now(), drawnMs, result });
    }
  }

  private outcome(result: UpgradeOutcome["result"], to: string, from: string, startedAt: number, error?: { code: string; message: string }, active?: string): UpgradeOutcome {
    return {
      result,
      service: this.options.service,
      from,
      to,
      active: active ?? this.activeVersion,
      hops: result === "noop" ? [] : [{ from, to }],
      ...(error ? { error } : {}),
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date().toISOString(),
    };
  }
}
