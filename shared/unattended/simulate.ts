import { effectivePlan, waveSeed, type ResolvedDesired } from "./decide.ts";
import type { RolloutSnapshot } from "./store.ts";
import { assignWaves, slotCount } from "./waves.ts";
import { windowPosition } from "./window.ts";

export interface SimulatedNode {
  node: string;
  wave: string;
  startAt: number;
  endAt: number;
}

export interface SimulatedWave {
  name: string;
  nodes: number;
  startAt?: number;
  endAt?: number;
  /** How many window openings the wave needs; more than one means it cannot finish inside one window. */
  openings: number;
  /** Why it cannot finish inside its window (a node's upgrade outlasts the window, or the nodes do not fit in one opening). */
  overrun?: string;
}

export interface Simulation {
  durationMs: number;
  /** Where the duration came from: observed (median of the nodes' unattended upgrades) or assumed. */
  durationFrom: "observed" | "assumed";
  nodes: SimulatedNode[];
  waves: SimulatedWave[];
  endAt?: number;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Forecasts when each node that is not on the target would update: waves in order, each starting
 * once the previous one ended plus its soakAfter, at most maxInFlight at once, each start inside
 * the wave's window before its cutoff, each upgrade lasting the median of the durations observed so
 * far (else `assumedDurationMs`). Names the waves that cannot finish inside one window. Holds,
 * quarantines and failures are not forecast; `status` shows them.
 */
export function simulateRollout(desired: ResolvedDesired, snapshot: RolloutSnapshot, now: number, assumedDurationMs: number): Simulation {
  const control = snapshot.control.value;
  const plan = effectivePlan(desired, control);
  const observed = median(snapshot.nodes.flatMap((report) => report.durationsMs));
  const durationMs = observed ?? assumedDurationMs;
  const assignment = assignWaves(desired.doc.waves, snapshot.nodes, waveSeed(desired));
  const nodes: SimulatedNode[] = [];
  const waves: SimulatedWave[] = [];
  let readyAt = now;
  for (const wave of plan.waves) {
    const members = snapshot.nodes.filter((report) => assignment.get(report.node) === wave.name).sort((a, b) => (a.node < b.node ? -1 : 1));
    const pending = members.filter((report) => report.version !== plan.target && control.pins[report.node] === undefined);
    const slots: number[] = new Array<number>(slotCount(wave.maxInFlight, members.length)).fill(readyAt);
    const result: SimulatedWave = { name: wave.name, nodes: pending.length, openings: 0 };
    const openingsUsed = new Set<number>();
    for (const report of pending) {
      slots.sort((a, b) => a - b);
      let startAt = Math.max(slots[0]!, readyAt);
      if (wave.window) {
        for (let guard = 0; guard < 400; guard++) {
          const position = windowPosition(wave.window, startAt);
          if (position.open) {
            openingsUsed.add(position.closesAt);
            if (startAt + durationMs > position.closesAt) result.overrun ??= `an upgrade takes ~${Math.round(durationMs / 1000)} s and ${report.node}'s would end after the window closes`;
            break;
          }
          startAt = position.opensAt;
        }
      }
      const endAt = startAt + durationMs;
      slots[0] = endAt;
      nodes.push({ node: report.node, wave: wave.name, startAt, endAt });
      result.startAt = Math.min(result.startAt ?? startAt, startAt);
      result.endAt = Math.max(result.endAt ?? endAt, endAt);
    }
    result.openings = openingsUsed.size;
    if (result.openings > 1) result.overrun ??= `its ${pending.length} node(s) need ${result.openings} window openings at ${slots.length} in flight`;
    waves.push(result);
    readyAt = Math.max(readyAt, result.endAt ?? readyAt) + wave.soakAfter;
  }
  const ends = nodes.map((node) => node.endAt);
  return { durationMs, durationFrom: observed === undefined ? "assumed" : "observed", nodes, waves, ...(ends.length ? { endAt: Math.max(...ends) } : {}) };
}
