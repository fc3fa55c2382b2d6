import { HoistError } from "../../shared/errors/index.ts";
import type { BatchSize, Strategy } from "./strategy.ts";

/** The batches of one hop: canary batches first, then the rest. */
export interface BatchSchedule {
  batches: string[][];
  /** How many of the leading batches hold canaries (0 without canaries). */
  canaryBatches: number;
}

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

/**
 * Puts nodes in the strategy's order: `name` sorts naturally (n2 before n10), `given` keeps the
 * order they came in, an explicit list puts the listed nodes first in that order and the others
 * after them by name.
 *
 * Throws INVALID_ARGUMENT when the explicit order names a node that is not in `nodes`: a typo there
 * would otherwise silently change which node goes first.
 */
export function orderNodes(nodes: readonly string[], order: Strategy["order"]): string[] {
  const byName = [...nodes].sort((a, b) => collator.compare(a, b));
  if (order === "given") return [...nodes];
  if (order === "name") return byName;
  const known = new Set(nodes);
  const unknown = order.filter((node) => !known.has(node));
  if (unknown.length > 0) {
    throw new HoistError("INVALID_ARGUMENT", `strategy order names ${unknown.join(", ")}, not among the nodes (${byName.join(", ")}); fix the order list`, {
      details: { unknown },
    });
  }
  const listed = new Set(order);
  return [...order, ...byName.filter((node) => !listed.has(node))];
}

/** A batch size in nodes: percentages are of `total`, rounded down, and never below 1 (Ansible's serial). */
export function resolveBatchSize(size: BatchSize, total: number): number {
  if (typeof size === "number") return size;
  return Math.max(1, Math.floor((Number.parseFloat(size) * total) / 100));
}

function chunk(nodes: readonly string[], sizes: readonly number[]): string[][] {
  const batches: string[][] = [];
  let index = 0;
  while (index < nodes.length) {
    const size = sizes[Math.min(batches.length, sizes.length - 1)]!;
    batches.push(nodes.slice(index, index + size));
    index += size;
  }
  return batches;
}

/**
 * Orders the nodes and cuts them into batches. Sizes follow Ansible's serial: a list of sizes whose
 * last one repeats, percentages of the total node count rounded down but at least 1. The first
 * `canary` nodes go first, in batches no bigger than the first size; the remaining nodes then follow
 * the size list from its start.
 */
export function planBatchSchedule(nodes: readonly string[], strategy: Pick<Strategy, "batch" | "canary" | "order">): BatchSchedule {
  const ordered = orderNodes(nodes, strategy.order);
  const total = ordered.length;
  const sizes = (Array.isArray(strategy.batch) ? strategy.batch : [strategy.batch]).map((size) => resolveBatchSize(size, total));
  const canaryCount = Math.min(strategy.canary, total);
  const canaries = chunk(ordered.slice(0, canaryCount), [sizes[0]!]);
  const rest = chunk(ordered.slice(canaryCount), sizes);
  return { batches: [...canaries, ...rest], canaryBatches: canaries.length };
}

/** The batches alone, canary batches first (see planBatchSchedule). */
export function planBatches(nodes: readonly string[], strategy: Pick<Strategy, "batch" | "canary" | "order">): string[][] {
  return planBatchSchedule(nodes, strategy).batches;
}
