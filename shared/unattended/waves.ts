import { createHash } from "node:crypto";
import type { Wave } from "./schema.ts";

/** A node as wave selection sees it: its id and its agent-config labels. */
export interface LabelledNode {
  node: string;
  labels: Readonly<Record<string, string>>;
}

function rank(seed: string, node: string): string {
  return createHash("sha256").update(`${seed}\0${node}`).digest("hex");
}

function matches(labels: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

/**
 * Which wave each node belongs to (wave name by node; every node gets one). Waves take nodes in
 * document order, each only from nodes no earlier wave took: a `labels` wave every node whose labels
 * all match, a `sample` wave `count` nodes picked round-robin across the groups of `spreadBy` label
 * values (within a group by a hash of `seed` and the node id, so every agent and the CLI pick the
 * same ones), a wave without `select` all the rest. Nodes no wave takes fall into the last wave
 * (Teleport's rule for agents whose group is not scheduled): a node with unexpected labels (or one
 * that joins later) is upgraded with the last wave, not left behind waiting forever.
 */
export function assignWaves(waves: readonly Wave[], nodes: readonly LabelledNode[], seed: string): Map<string, string> {
  const assigned = new Map<string, string>();
  const sorted = [...nodes].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  for (const wave of waves) {
    const free = sorted.filter((node) => !assigned.has(node.node));
    const select = wave.select;
    let taken: LabelledNode[];
    if (select === undefined) taken = free;
    else if ("labels" in select) taken = free.filter((node) => matches(node.labels, select.labels));
    else {
      const groups = new Map<string, LabelledNode[]>();
      for (const node of free) {
        const group = select.sample.spreadBy.map((label) => node.labels[label] ?? "").join("\0");
        groups.set(group, [...(groups.get(group) ?? []), node]);
      }
      const queues = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, members]) => members.sort((a, b) => (rank(seed, a.node) < rank(seed, b.node) ? -1 : 1)));
      taken = [];
      while (taken.length < select.sample.count && queues.some((queue) => queue.length > 0)) {
        for (const queue of queues) {
          const next = queue.shift();
          if (next && taken.length < select.sample.count) taken.push(next);
        }
      }
    }
    for (const node of taken) assigned.set(node.node, wave.name);
  }
  const last = waves[waves.length - 1];
  if (last) for (const node of sorted) if (!assigned.has(node.node)) assigned.set(node.node, last.name);
  return assigned;
}

/** A wave's maxInFlight as a count: a number as is, a percentage of its `size` nodes rounded down, at least 1. */
export function slotCount(maxInFlight: Wave["maxInFlight"], size: number): number {
  if (typeof maxInFlight === "number") return maxInFlight;
  return Math.max(1, Math.floor((Number(maxInFlight.slice(0, -1)) * size) / 100));
}
