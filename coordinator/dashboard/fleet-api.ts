import { retryBus, type RetryBusOptions } from "../../shared/bus/index.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { findDrift, type FleetRow } from "../inventory/drift.ts";
import { readDesired } from "../inventory/read-desired.ts";
import { isTerminal } from "../rollout/state.ts";
import { RolloutStore } from "../rollout/store.ts";
import { toRolloutView, type RolloutView } from "./rollout-view.ts";

/** How many ended rollouts the page lists besides every live one. */
export const ENDED_ROLLOUTS_SHOWN = 10;

/** Reads the page's data each time it asks: no cache, so what it shows is what KV holds. */
export class DashboardReader {
  private readonly store: RolloutStore;

  constructor(
    private readonly bus: Bus,
    private readonly retry: RetryBusOptions,
    private readonly staleAfterMs: number,
    private readonly logger: Logger,
  ) {
    this.store = new RolloutStore(bus.buckets.rollouts);
  }

  /** The fleet inventory, one row per node and service, drift flagged (coordinator/inventory/drift.ts). */
  async fleet(): Promise<{ now: number; staleAfterMs: number; rows: FleetRow[] }> {
    const [inventories, desired] = await Promise.all([
      retryBus("reading the inventory", () => readInventories(this.bus.buckets.inventory, undefined, this.logger), this.retry),
      retryBus("reading the desired versions", () => readDesired(this.bus.buckets.desired), this.retry),
    ]);
    const now = Date.now();
    // Read across clusters, inventories are keyed CLUSTER.NODE; the page has a cluster column and shows the node's own name.
    const rows = findDrift({ inventories, desired, now, staleAfterMs: this.staleAfterMs }).map((row) => ({ ...row, node: inventories[row.node]?.inventory.node ?? row.node }));
    return { now, staleAfterMs: this.staleAfterMs, rows };
  }

  /** Every live rollout and the newest ended ones, newest first: only those are read whole. */
  async rollouts(): Promise<{ rollouts: RolloutView[] }> {
    const listed = await retryBus("listing the rollouts", () => this.store.summaries(), this.retry);
    // One per rollout, even should a key listing name a key twice (kv.keys() repeats keys written while it lists).
    const unique = [...new Map(listed.map((summary) => [`${summary.cluster}/${summary.id}`, summary])).values()].sort((a, b) => b.createdAt - a.createdAt);
    const live = unique.filter((summary) => !isTerminal(summary.phase));
    const ended = unique.filter((summary) => isTerminal(summary.phase)).slice(0, ENDED_ROLLOUTS_SHOWN);
    const chosen = [...live, ...ended].sort((a, b) => b.createdAt - a.createdAt);
    const loaded = await Promise.all(chosen.map((summary) => retryBus(`reading rollout ${summary.id}`, () => this.store.load(summary.cluster, summary.id), this.retry)));
    return { rollouts: loaded.filter((entry) => entry !== undefined).map((entry) => toRolloutView(entry.value)) };
  }
}
