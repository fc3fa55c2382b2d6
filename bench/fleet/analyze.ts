import type { StepRecord } from "../../scripts/fleet-sim/sim-node-agent.ts";

export interface BatchFigures {
  batch: number;
  nodes: number;
  /** What the batch would take with a coordinator that costs nothing: slowest stage + slowest node chain + the gate's hold. */
  idealMs: number;
  /** From the batch's first stage starting to the next batch's first stage (the last batch: to the rollout's end). */
  actualMs: number;
}

export interface RolloutFigures {
  batches: BatchFigures[];
  idealMs: number;
  actualMs: number;
  /** (actual - ideal) / ideal: the coordinator's cost as a share of the agents' own critical-path time. */
  overheadShare: number;
  /** Sum over nodes of the agents' own drawn step times (stage, drain, upgrade, rejoin), plus the gate's hold per node. */
  agentBusyMs: number;
  /** Per node: time between one step's end on the agent and the next step's start there (coordinator + NATS latency), medians and p99. */
  gapMs: { p50: number; p90: number; p99: number; max: number; count: number };
  /** The same gaps by hand-off (`drain>upgrade`, `upgrade>rejoin`): a burst of results shows in one of them. */
  gapByHandOff: Record<string, { p50: number; p99: number; max: number; count: number }>;
  /**
   * Where a one-batch rollout's time went, from the agents' records: the last stage ending -> the
   * first drain starting (the decision to leave staging), the first drain -> the last drain starting
   * (how long the batch took to go out), and the last rejoin ending -> the rollout's end (the last
   * health gate and its fold). Only for the first batch.
   */
  firstBatchMs: { stageToFirstDrain: number; drainSpread: number; lastRejoinToEnd: number };
  /** Work an agent did more than once for the same node and verb (a verb whose key the agent does not honour, sent again). */
  repeats: Record<string, { extraRuns: number; nodes: number }>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

/**
 * The coordinator's overhead in a rolling hop, from what the simulated agents recorded. The rolling
 * decider stages the whole batch, then runs each node's drain -> upgrade -> rejoin -> health gate
 * on its own, and starts the next batch when every node of this one is done. A free coordinator
 * would therefore take, per batch, the slowest stage plus the slowest node chain plus the gate's
 * hold (minHealthyMs); the actual time less that is what the coordinator (decisions, KV writes,
 * NATS round trips, the gate's gRPC dial) added.
 */
export function analyzeRollout(input: { records: StepRecord[]; batches: string[][]; minHealthyMs: number; endAt: number }): RolloutFigures {
  const byNode = new Map<string, StepRecord[]>();
  for (const record of input.records) {
    const list = byNode.get(record.node) ?? [];
    list.push(record);
    byNode.set(record.node, list);
  }
  const drawn = (node: string, verb: string) => (byNode.get(node) ?? []).filter((record) => record.verb === verb).reduce((sum, record) => sum + record.drawnMs, 0);
  const firstStart = (nodes: string[]) => Math.min(...nodes.flatMap((node) => (byNode.get(node) ?? []).map((record) => record.startedAt)));
  const batches: BatchFigures[] = input.batches.map((nodes, index) => {
    const stage = Math.max(...nodes.map((node) => drawn(node, "stage")));
    const chain = Math.max(...nodes.map((node) => drawn(node, "drain") + drawn(node, "upgrade") + drawn(node, "rejoin")));
    const start = firstStart(nodes);
    const next = index + 1 < input.batches.length ? firstStart(input.batches[index + 1]!) : input.endAt;
    return { batch: index + 1, nodes: nodes.length, idealMs: stage + chain + input.minHealthyMs, actualMs: next - start };
  });
  const idealMs = batches.reduce((sum, batch) => sum + batch.idealMs, 0);
  const actualMs = input.endAt - firstStart(input.batches.flat());
  const gaps: number[] = [];
  const byHandOff = new Map<string, number[]>();
  let agentBusyMs = 0;
  for (const records of byNode.values()) {
    const sorted = [...records].sort((a, b) => a.startedAt - b.startedAt);
    for (let index = 0; index < sorted.length; index++) {
      agentBusyMs += sorted[index]!.drawnMs;
      if (index > 0 && sorted[index - 1]!.verb !== "stage") {
        const gap = sorted[index]!.startedAt - sorted[index - 1]!.finishedAt;
        gaps.push(gap);
        const handOff = `${sorted[index - 1]!.verb}>${sorted[index]!.verb}`;
        byHandOff.set(handOff, [...(byHandOff.get(handOff) ?? []), gap]);
      }
    }
    agentBusyMs += input.minHealthyMs;
  }
  gaps.sort((a, b) => a - b);
  const gapByHandOff: RolloutFigures["gapByHandOff"] = {};
  for (const [handOff, values] of byHandOff) {
    values.sort((a, b) => a - b);
    gapByHandOff[handOff] = { p50: percentile(values, 0.5), p99: percentile(values, 0.99), max: values.at(-1) ?? 0, count: values.length };
  }
  const repeats: Record<string, { extraRuns: number; nodes: number }> = {};
  for (const records of byNode.values()) {
    const counts = new Map<string, number>();
    for (const record of records) counts.set(record.verb, (counts.get(record.verb) ?? 0) + 1);
    for (const [verb, count] of counts) {
      if (count < 2) continue;
      const entry = (repeats[verb] ??= { extraRuns: 0, nodes: 0 });
      entry.extraRuns += count - 1;
      entry.nodes += 1;
    }
  }
  const firstNodes = new Set(input.batches[0] ?? []);
  const ofFirst = (verb: string) => input.records.filter((record) => record.verb === verb && firstNodes.has(record.node));
  const drainStarts = ofFirst("drain").map((record) => record.startedAt);
  const firstBatchMs = {
    stageToFirstDrain: Math.min(...drainStarts) - Math.max(...ofFirst("stage").map((record) => record.finishedAt)),
    drainSpread: Math.max(...drainStarts) - Math.min(...drainStarts),
    lastRejoinToEnd:
      (input.batches.length === 1 ? input.endAt : Math.min(...(input.batches[1] ?? []).flatMap((node) => byNode.get(node) ?? []).map((record) => record.startedAt))) -
      Math.max(...ofFirst("rejoin").map((record) => record.finishedAt)),
  };
  return {
    firstBatchMs,
    repeats,
    batches,
    idealMs,
    actualMs,
    overheadShare: (actualMs - idealMs) / idealMs,
    agentBusyMs,
    gapByHandOff,
    gapMs: { p50: percentile(gaps, 0.5), p90: percentile(gaps, 0.9), p99: percentile(gaps, 0.99), max: gaps.at(-1) ?? 0, count: gaps.length },
  };
}
