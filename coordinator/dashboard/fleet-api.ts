import { retryBus, type RetryBusOptions } from "../../shared/bus/index.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { findDrift, type FleetRow } from "../inventory/drift.ts";
import { readDesired } from "../inventory/read-desired.ts";
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

  /** Every live rollout and the newest ended ones, newest first. */
  async rollouts(): Promise<{ rollouts: RolloutView[] }> {
    const listed = await retryBus("listing the rollouts", () => this.store.list(), this.retry);
    // One view per rollout, even should a listing name a key twice.
    const byKey = new Map(listed.map((entry) => [`${entry.value.cluster}/${entry.value.id}`, toRolloutView(entry.value)]));
    const all = [...byKey.values()].sort((a, b) => b.createdAt - a.createdAt);
    const live = all.filter((rollout) => !rollout.terminal);
    const ended = all.filter((rollout) => rollout.terminal).slice(0, ENDED_ROLLOUTS_SHOWN);
    return { rollouts: [...live, ...ended].sort((a, b) => b.createdAt - a.createdAt) };
  }
}
