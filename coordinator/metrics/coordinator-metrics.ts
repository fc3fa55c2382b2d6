import { Counter, Gauge, Registry } from "prom-client";
import { readInventories, servingStatusSchema, type ObservedInventory } from "../../shared/inventory/index.ts";
import { setStateSet } from "../../shared/metrics/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { NODE_HOP_STATUSES } from "../rollout/node-steps.ts";
import { ROLLOUT_PHASES, type RolloutState } from "../rollout/state.ts";
import { RolloutStore } from "../rollout/store.ts";
import { rolloutsToShow, rolloutView } from "./rollout-view.ts";

/** The coordinator's metrics: a registry and what fills it. */
export interface CoordinatorMetrics {
  registry: Registry;
  /** Reads the rollouts and the fleet's inventory from KV into the gauges. */
  refresh(): Promise<void>;
}

/**
 * The coordinator's metrics, listed in docs/metrics.md: every rollout that is not finished and the
 * newest of each cluster (phase, nodes by state, hop, batch, failure budget left), how many
 * rollouts are recorded by phase, and the fleet as the agents published it to KV (version and
 * health per node and service, last seen). All read from KV at each scrape (RolloutStore.list,
 * readInventories), so any coordinator shows the same, whichever one drives.
 */
export function createCoordinatorMetrics(bus: Pick<Bus, "buckets">, owner: string): CoordinatorMetrics {
  const registry = new Registry();
  const registers = [registry];
  const store = new RolloutStore(bus.buckets.rollouts);

  new Gauge({ name: "hoist_coordinator_info", help: "The Hoist coordinator running (always 1)", labelNames: ["owner"], registers }).set({ owner }, 1);
  const recorded = new Gauge({ name: "hoist_rollouts", help: "Rollouts recorded in KV, by phase", labelNames: ["phase"], registers });
  const info = new Gauge({ name: "hoist_rollout_info", help: "A rollout shown (1): every one not finished, and the newest of each cluster", labelNames: ["cluster", "rollout", "service", "target"], registers });
  const phase = new Gauge({ name: "hoist_rollout_phase", help: "Phase of the rollout: 1 for the current phase, 0 for the others", labelNames: ["cluster", "rollout", "phase"], registers });
  const nodes = new Gauge({ name: "hoist_rollout_nodes", help: "Nodes of the rollout's current hop by state", labelNames: ["cluster", "rollout", "state"], registers });
  const hop = new Gauge({ name: "hoist_rollout_hop", help: "Current hop of the rollout (1-based)", labelNames: ["cluster", "rollout"], registers });
  const hops = new Gauge({ name: "hoist_rollout_hops", help: "Hops in the rollout's plan", labelNames: ["cluster", "rollout"], registers });
  const batch = new Gauge({
    name: "hoist_rollout_batch",
    help: "Batch of the current hop being worked on, or next to start while paused or waiting for promote (1-based; the revert batch while reverting)",
    labelNames: ["cluster", "rollout"],
    registers,
  });
  const batches = new Gauge({ name: "hoist_rollout_batches", help: "Batches in the rollout's current hop", labelNames: ["cluster", "rollout"], registers });
  const failures = new Gauge({ name: "hoist_rollout_node_failures", help: "Node step failures so far in the rollout", labelNames: ["cluster", "rollout"], registers });
  const budget = new Gauge({
    name: "hoist_rollout_failure_budget_remaining",
    help: "Node failures the rollout can still take before it halts (or reverts): strategy maxFailures minus failures, at least 0",
    labelNames: ["cluster", "rollout"],
    registers,
  });
  const updated = new Gauge({ name: "hoist_rollout_updated_timestamp_seconds", help: "When the rollout record last changed (Unix time)", labelNames: ["cluster", "rollout"], registers });
  const progressed = new Gauge({ name: "hoist_rollout_progress_timestamp_seconds", help: "When the rollout last made progress; its progress deadline counts from here (Unix time)", labelNames: ["cluster", "rollout"], registers });
  const versionInfo = new Gauge({
    name: "hoist_node_version_info",
    help: "The release each node runs per service, as its agent last published it to KV",
    labelNames: ["cluster", "node", "service", "version", "sha256"],
    registers,
  });
  const health = new Gauge({
    name: "hoist_node_health_status",
    help: "Health of each service per node as last published: 1 for the current status, 0 for the others",
    labelNames: ["cluster", "node", "service", "status"],
    registers,
  });
  const seen = new Gauge({ name: "hoist_node_last_seen_timestamp_seconds", help: "When each node's agent last published its inventory (Unix time)", labelNames: ["cluster", "node"], registers });
  const readErrors = new Counter({ name: "hoist_coordinator_state_read_errors_total", help: "Scrapes that could not read the rollouts or the inventory from KV (the last values read are served)", registers });
  readErrors.inc(0);

  const showRollout = (state: RolloutState) => {
    const view = rolloutView(state);
    const labels = { cluster: state.cluster, rollout: state.id };
    info.set({ ...labels, service: state.service, target: state.target }, 1);
    setStateSet(phase, labels, "phase", ROLLOUT_PHASES, state.phase);
    for (const status of NODE_HOP_STATUSES) nodes.set({ ...labels, state: status }, view.nodesByState[status] ?? 0);
    hop.set(labels, view.hop);
    hops.set(labels, view.hops);
    batch.set(labels, view.batch);
    batches.set(labels, view.batches);
    failures.set(labels, state.failures);
    budget.set(labels, view.failureBudgetLeft);
    updated.set(labels, state.updatedAt / 1000);
    progressed.set(labels, state.progressAt / 1000);
  };

  const showNode = (observed: ObservedInventory) => {
    const { cluster, node } = observed.inventory;
    seen.set({ cluster, node }, observed.seenAt / 1000);
    for (const service of observed.inventory.services) {
      const labels = { cluster, node, service: service.name };
      if (service.activeVersion !== undefined) versionInfo.set({ ...labels, version: service.activeVersion, sha256: service.activeSha256 ?? "" }, 1);
      setStateSet(health, labels, "status", servingStatusSchema.options, service.health);
    }
  };

  return {
    registry,
    async refresh() {
      const [rollouts, inventories] = await Promise.all([store.list(), readInventories(bus.buckets.inventory, undefined)]).catch((err: unknown) => {
        readErrors.inc();
        throw err;
      });
      const states = rollouts.map((entry) => entry.value);
      for (const gauge of [recorded, info, phase, nodes, hop, hops, batch, batches, failures, budget, updated, progressed, versionInfo, health, seen]) gauge.reset();
      for (const name of ROLLOUT_PHASES) recorded.set({ phase: name }, states.filter((state) => state.phase === name).length);
      for (const state of rolloutsToShow(states)) showRollout(state);
      for (const observed of Object.values(inventories)) showNode(observed);
    },
  };
}
