import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { serviceActivitySchema, servingStatusSchema } from "../../shared/inventory/index.ts";
import { STEP_SECONDS_BUCKETS, SNAPSHOT_SECONDS_BUCKETS, setStateSet } from "../../shared/metrics/index.ts";
import type { AgentConfig } from "../config.ts";
import type { NodeAgentApi } from "../node-agent-api.ts";
import { servicePaths } from "../services/service-paths.ts";
import { AGENT_CHANNELS, type HookFailedMessage, type OperationEndedMessage, type SnapshotTakenMessage, type StepEndedMessage } from "./channels.ts";

/** The agent's metrics: a registry and what fills it. */
export interface AgentMetrics {
  registry: Registry;
  /** Reads the inventory into the gauges that show state (versions, health, last upgrade, kept snapshots). */
  refresh(): Promise<void>;
  /** Stops listening to the agent's channels. */
  stop(): void;
}

/**
 * The metrics of one agent (every series carries `cluster` and `node`), listed in docs/metrics.md:
 * state read from the agent's inventory at each scrape, and what happened (steps, operations,
 * hook failures, snapshots) counted from the agent's channels (agent/metrics/channels.ts).
 */
export function createAgentMetrics(agent: Pick<NodeAgentApi, "inventory">, config: AgentConfig): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ cluster: config.cluster, node: config.node });
  const registers = [registry];

  const agentInfo = new Gauge({ name: "hoist_agent_info", help: "The Hoist agent running (always 1)", labelNames: ["agent_version"], registers });
  const versionInfo = new Gauge({ name: "hoist_node_version_info", help: "The release each service runs (1 per service with an active release)", labelNames: ["service", "version", "sha256"], registers });
  const health = new Gauge({ name: "hoist_node_health_status", help: "Health of each service as the agent's monitor sees it: 1 for the current status, 0 for the others", labelNames: ["service", "status"], registers });
  const activity = new Gauge({ name: "hoist_node_activity", help: "What Hoist is doing with each service: 1 for the current activity, 0 for the others", labelNames: ["service", "activity"], registers });
  const lastResult = new Gauge({
    name: "hoist_upgrade_last_result_info",
    help: "Outcome of each service's last upgrade or rollback (1; result committed, rolled-back, aborted, failed or noop)",
    labelNames: ["service", "result", "from", "to"],
    registers,
  });
  const lastFinished = new Gauge({ name: "hoist_upgrade_last_finished_timestamp_seconds", help: "When each service's last upgrade or rollback ended (Unix time)", labelNames: ["service"], registers });
  const keptSnapshots = new Gauge({ name: "hoist_snapshots_kept", help: "Snapshots kept on disk per service", labelNames: ["service"], registers });
  const keptBytes = new Gauge({ name: "hoist_snapshots_kept_bytes", help: "Content bytes of the snapshots kept per service", labelNames: ["service"], registers });

  const steps = new Histogram({
    name: "hoist_upgrade_step_duration_seconds",
    help: "Duration of each journal step of upgrades and rollbacks (result done or failed)",
    labelNames: ["service", "step", "result"],
    buckets: STEP_SECONDS_BUCKETS,
    registers,
  });
  const operations = new Counter({ name: "hoist_operations_total", help: "Upgrades and rollbacks that ended, by kind and result", labelNames: ["service", "kind", "result"], registers });
  const hookFailures = new Counter({ name: "hoist_hook_failures_total", help: "Hooks, migrations and backup commands that failed (exit code, signal, timeout; not cancellation)", labelNames: ["service", "hook"], registers });
  const snapshotSeconds = new Histogram({
    name: "hoist_snapshot_duration_seconds",
    help: "Time to take a verified snapshot (backups, archives, verification)",
    labelNames: ["service"],
    buckets: SNAPSHOT_SECONDS_BUCKETS,
    registers,
  });
  const snapshotBytes = new Gauge({ name: "hoist_snapshot_last_size_bytes", help: "Content bytes of the last snapshot taken", labelNames: ["service"], registers });
  const snapshotArchiveBytes = new Gauge({ name: "hoist_snapshot_last_archive_bytes", help: "Bytes on disk of the archives of the last snapshot taken", labelNames: ["service"], registers });
  const snapshotsTaken = new Counter({ name: "hoist_snapshots_taken_total", help: "Verified snapshots taken", labelNames: ["service"], registers });

  for (const service of config.services) {
    for (const hook of Object.keys(service.hooks)) hookFailures.inc({ service: service.name, hook }, 0);
    snapshotsTaken.inc({ service: service.name }, 0);
  }

  const ours = (message: { cluster: string; node: string }) => message.cluster === config.cluster && message.node === config.node;
  const snapshotDirs = new Map(config.services.map((service) => [servicePaths(config, service).snapshots, service.name]));
  const listeners: [string, (message: unknown) => void][] = [
    [
      AGENT_CHANNELS.stepEnded.name as string,
      (raw) => {
        const message = raw as StepEndedMessage;
        if (ours(message)) steps.observe({ service: message.service, step: message.step, result: message.result }, message.seconds);
      },
    ],
    [
      AGENT_CHANNELS.operationEnded.name as string,
      (raw) => {
        const message = raw as OperationEndedMessage;
        if (ours(message)) operations.inc({ service: message.service, kind: message.kind, result: message.result });
      },
    ],
    [
      AGENT_CHANNELS.hookFailed.name as string,
      (raw) => {
        const message = raw as HookFailedMessage;
        if (ours(message)) hookFailures.inc({ service: message.service, hook: message.hook });
      },
    ],
    [
      AGENT_CHANNELS.snapshotTaken.name as string,
      (raw) => {
        const message = raw as SnapshotTakenMessage;
        if (snapshotDirs.get(message.snapshotsDir) !== message.service) return;
        snapshotSeconds.observe({ service: message.service }, message.seconds);
        snapshotBytes.set({ service: message.service }, message.bytes);
        snapshotArchiveBytes.set({ service: message.service }, message.archiveBytes);
        snapshotsTaken.inc({ service: message.service });
      },
    ],
  ];
  for (const [name, listener] of listeners) subscribe(name, listener);

  return {
    registry,
    async refresh() {
      const inventory = await agent.inventory();
      for (const gauge of [agentInfo, versionInfo, health, activity, lastResult, lastFinished, keptSnapshots, keptBytes]) gauge.reset();
      agentInfo.set({ agent_version: inventory.agentVersion }, 1);
      for (const service of inventory.services) {
        const labels = { service: service.name };
        if (service.activeVersion !== undefined) versionInfo.set({ ...labels, version: service.activeVersion, sha256: service.activeSha256 ?? "" }, 1);
        setStateSet(health, labels, "status", servingStatusSchema.options, service.health);
        setStateSet(activity, labels, "activity", serviceActivitySchema.options, service.activity);
        const last = service.lastUpgrade;
        if (last) {
          lastResult.set({ ...labels, result: last.result, from: last.from ?? "", to: last.to }, 1);
          lastFinished.set(labels, Date.parse(last.finishedAt) / 1000);
        }
        keptSnapshots.set(labels, service.snapshots.length);
        keptBytes.set(
          labels,
          service.snapshots.reduce((sum, snapshot) => sum + snapshot.bytes, 0),
        );
      }
    },
    stop() {
      for (const [name, listener] of listeners) unsubscribe(name, listener);
    },
  };
}
