import type { Logger } from "../../shared/logger/index.ts";
import type { ProgressListener } from "../../shared/types/index.ts";
import type { AgentConfig, ServiceConfig } from "../config.ts";
import type { ServicePaths } from "../services/service-paths.ts";
import type { ProcessTracker } from "../exec/index.ts";
import type { PeersInService } from "../services/peer-env.ts";
import type { JournalRecord } from "./journal-record.ts";
import type { TwoPhaseSnapshot } from "../snapshot/index.ts";

/** What one step function gets: the service, its journal record, and the operation's signal. */
export interface StepContext {
  config: AgentConfig;
  service: ServiceConfig;
  paths: ServicePaths;
  record: Readonly<JournalRecord>;
  /** Aborts when the caller cancels (forward steps) ; rollback steps get one that only their own timeouts end. */
  signal: AbortSignal;
  onProgress: ProgressListener;
  logger: Logger;
  /** Runs `cluster-once` migrations under a cluster-wide lock (given when the agent is on NATS). */
  clusterOnce?: ClusterOnceGate;
  /** The cluster's peers in service, for HOIST_PEERS in hooks (given when the agent is on NATS). */
  peers?: PeersInService;
  /** Writes down every child process a step runs (hooks, migrations, command probes), by label. */
  track?: (label: string) => ProcessTracker;
  /** In-memory state carried between steps of one run (not journaled: lost on a crash, by design). */
  runtime: { logStartOffsets?: unknown; firstPhase?: TwoPhaseSnapshot };
}

/** A step does its I/O and returns what the journal should remember of it. */
export type StepFunction = (ctx: StepContext) => Promise<Partial<JournalRecord> | void>;

/**
 * Decides cluster-wide whether this node runs a `cluster-once` migration: the first node to get there
 * runs `run` under the lock and records it; the others see the record and skip.
 */
export interface ClusterOnceGate {
  runOnce(id: { service: string; version: string; migration: string }, run: () => Promise<void>, signal: AbortSignal): Promise<"ran" | "skipped">;
}
