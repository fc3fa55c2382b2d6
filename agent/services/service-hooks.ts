import { HoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { probesFor, type AgentConfig, type ProbePhase } from "../config.ts";
import { runHook, type HookContext, type ProcessTracker } from "../exec/index.ts";
import { alreadyServing, checkProbe, waitHealthy } from "../health/index.ts";
import { releaseDir } from "../release/index.ts";
import type { BackupContext } from "../snapshot/index.ts";
import type { ProcessLedger } from "../state/process-ledger.ts";
import { hookEnv } from "./hook-env.ts";
import type { ManagedService } from "./managed-service.ts";
import { peerEnv, type PeersInService } from "./peer-env.ts";

/**
 * How the agent runs a service's children outside the journal (CLI and bus commands): hooks,
 * probes and backup commands, each in the release dir, with the service's environment, as its user,
 * written down in the process ledger when this agent owns the state dir.
 */
export class ServiceHooks {
  constructor(
    private readonly config: AgentConfig,
    private readonly logger: Logger,
    private readonly ledger: ProcessLedger | undefined,
    private readonly peers: PeersInService | undefined,
  ) {}

  /** How a child process of `managed` runs: written down (when owned), as the service's user. */
  child(managed: ManagedService, what: string): { tracker?: ProcessTracker; user?: string } {
    return {
      ...(this.ledger ? { tracker: this.ledger.tracker(`${managed.config.name}: ${what}`) } : {}),
      ...(managed.config.user === undefined ? {} : { user: managed.config.user }),
    };
  }

  /** The context of a probe or backup command: the release dir of `version` (or the install root), the service's env. */
  context(managed: ManagedService, version: string | undefined, what: string, signal: AbortSignal | undefined): HookContext {
    return {
      cwd: version === undefined ? managed.config.installRoot : releaseDir(managed.config.installRoot, version),
      env: hookEnv(this.config, managed.config),
      ...(signal ? { signal } : {}),
      ...this.child(managed, what),
    };
  }

  /** The context of a service hook (start, stop, drain, rejoin): plus HOIST_RELEASE_DIR and HOIST_PEERS. */
  async hookContext(managed: ManagedService, version: string, what: string, signal: AbortSignal | undefined): Promise<HookContext> {
    const ctx = this.context(managed, version, what, signal);
    const peers = await peerEnv(this.peers, managed.config.name, this.logger);
    return { ...ctx, env: { ...ctx.env, HOIST_RELEASE_DIR: ctx.cwd, ...peers } };
  }

  /** How each backup command of `managed` runs (see ServiceConfig.backups). */
  backupContext(managed: ManagedService, version: string | undefined, signal: AbortSignal | undefined): BackupContext {
    return (spec) => this.context(managed, version, `backup ${spec.name}`, signal);
  }

  /** Runs one of the service's own hooks for the release `version`. */
  async run(managed: ManagedService, which: "start" | "stop" | "drain" | "rejoin", version: string, signal: AbortSignal | undefined): Promise<void> {
    const hook = managed.config.hooks[which];
    if (!hook) return;
    await runHook(which, hook, await this.hookContext(managed, version, `${which} hook`, signal));
  }

  /** Whether every `verify` probe that answers at once passes now (a failing check counts as no). */
  async servesNow(managed: ManagedService, version: string): Promise<boolean> {
    return alreadyServing(probesFor(managed.config, "verify"), this.context(managed, version, "probe", undefined)).catch(() => false);
  }

  /** Starts `version` with its start hook unless it already serves (so a repeated start is harmless). */
  async startIfDown(managed: ManagedService, version: string, signal: AbortSignal | undefined): Promise<void> {
    if (await this.servesNow(managed, version)) return;
    await this.run(managed, "start", version, signal);
  }

  /** Starts `version` unless it already serves, then waits until its `verify` probes hold healthy. */
  async startAndVerify(managed: ManagedService, version: string, options: WorkOptions): Promise<void> {
    options.onProgress?.({ step: "start", message: "starting the service" });
    await this.startIfDown(managed, version, options.signal);
    await this.verifyPhase(managed, version, "verify", options);
  }

  /** Waits until the probes of `phase` hold healthy for minHealthyMs (none configured: returns at once). */
  async verifyPhase(managed: ManagedService, version: string, phase: ProbePhase, options: WorkOptions): Promise<void> {
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

  /**
   * The `preflight` probes must pass before an upgrade of a running service begins.
   * @throws HoistError PREFLIGHT_FAILED naming the failing probes.
   */
  async checkPreflight(managed: ManagedService, version: string): Promise<void> {
    const probes = probesFor(managed.config, "preflight");
    if (probes.length === 0) return;
    const ctx = this.context(managed, version, "preflight probe", undefined);
    const results = await Promise.all(probes.map((probe) => checkProbe(probe, ctx)));
    const failing = results.filter((result) => !result.healthy);
    if (failing.length > 0) {
      throw new HoistError("PREFLIGHT_FAILED", `${managed.config.name} is not healthy, so the upgrade was not started (nothing changed): ${failing.map((result) => `${result.probe} -> ${result.detail}`).join("; ")}`, {
        details: { failing },
      });
    }
  }
}
