import { FULL_STOP_RANK, forwardSteps, revertSteps, type NodeStep } from "./node-steps.ts";
import type { InFlightStep, NodeHopState, RolloutState } from "./state.ts";
import { stepCommand, type StepCommand } from "./step-command.ts";

/**
 * Reading the rollout state: which hop is current, which units of work have begun, and what each
 * node would be sent next — the facts decideNext decides on. Pure; nothing here changes the state.
 *
 * Units of work. In a rolling hop a node's pipeline (drain -> upgrade -> rejoin -> verify, or a
 * recovery or revert) is one unit; in a full-stop hop the whole downtime window (stop every node ->
 * upgrade the leader -> upgrade the rest -> start every node -> verify) is one unit. Pause, abort and
 * failures stop new units from starting; units already begun always run to their end, so no node is
 * left drained and no cluster is left stopped. Staging (no downtime) is not a unit.
 */

export interface NodeRef {
  hop: number;
  node: string;
  state: NodeHopState;
}

export function nodesOf(rollout: RolloutState, hop: number): NodeRef[] {
  const order = [...rollout.plan.hops[hop]!.nodes, ...rollout.plan.hops[hop]!.alreadyOnTarget];
  return order.map((node) => ({ hop, node, state: rollout.hops[hop]!.nodes[node]! }));
}

export function isComplete(state: NodeHopState): boolean {
  return state.status === "done" || state.status === "skipped";
}

/** The first hop that is not done on every node (hops.length when all are). */
export function currentHop(rollout: RolloutState): number {
  const index = rollout.hops.findIndex((hop) => !Object.values(hop.nodes).every(isComplete));
  return index === -1 ? rollout.hops.length : index;
}

/** In the middle of a unit of work: a step with downtime sent or done, and the track not finished. */
export function hasBegun(state: NodeHopState): boolean {
  if (state.inFlight) return state.inFlight.step !== "stage";
  if (state.todo.length === 0) return false;
  if (state.track !== "forward") return true;
  return state.status !== "pending" && state.status !== "staged";
}

/** A node's step in flight, as recorded. */
export interface InFlightRef {
  hop: number;
  node: string;
  flight: InFlightStep;
}

/** Every step in flight, in plan order, without building its command (cheap: decideNext reads it on every decision). */
export function inFlightSteps(rollout: RolloutState): InFlightRef[] {
  const found: InFlightRef[] = [];
  rollout.hops.forEach((progress, hop) => {
    const plan = rollout.plan.hops[hop]!;
    for (const members of [plan.nodes, plan.alreadyOnTarget]) {
      for (const node of members) {
        const flight = progress.nodes[node]?.inFlight;
        if (flight) found.push({ hop, node, flight });
      }
    }
  });
  return found;
}

/** The command that was sent for a step in flight (same key, same deadline). */
export function inFlightCommand(rollout: RolloutState, ref: InFlightRef): StepCommand {
  return stepCommand(rollout, ref, ref.flight.step, ref.flight.track, ref.flight.attempt, ref.flight.sentAt, ref.flight);
}

/** Every step in flight, as the command that was sent (same key, same deadline). */
export function inFlightCommands(rollout: RolloutState): StepCommand[] {
  return inFlightSteps(rollout).map((ref) => inFlightCommand(rollout, ref));
}

/** The next command of a node that is not in flight, or undefined when it has nothing to do. */
function nextOf(rollout: RolloutState, ref: NodeRef, now: number): StepCommand | undefined {
  if (ref.state.inFlight || ref.state.todo.length === 0) return undefined;
  return stepCommand(rollout, ref, ref.state.todo[0]!, ref.state.track, ref.state.attempt, now);
}

/** A rolled-back node tried again: a new attempt, new keys, from the first forward step. */
function retryOf(rollout: RolloutState, ref: NodeRef, now: number): StepCommand | undefined {
  if (ref.state.status !== "rolled-back" || rollout.failure) return undefined;
  const mode = rollout.plan.hops[ref.hop]!.mode;
  return stepCommand(rollout, ref, forwardSteps(mode, ref.state.onTarget)[0]!, "forward", ref.state.attempt + 1, now);
}

export interface Work {
  /** Next steps of units already begun: sent whatever the phase. */
  continuing: StepCommand[];
  /** Steps that start something new: only while running, not paused, not aborted, no failure. */
  fresh: StepCommand[];
  /** The next batch waits for its canaries to be promoted. */
  needsPromote: boolean;
}

function rollingWork(rollout: RolloutState, hop: number, now: number): Work {
  const plan = rollout.plan.hops[hop]!;
  const refs = nodesOf(rollout, hop);
  const continuing = refs.filter((ref) => hasBegun(ref.state)).flatMap((ref) => nextOf(rollout, ref, now) ?? []);
  const batch = plan.batches.findIndex((nodes) => nodes.some((node) => !isComplete(rollout.hops[hop]!.nodes[node]!)));
  if (batch === -1) return { continuing, fresh: [], needsPromote: false };
  const promoted = rollout.hops[hop]!.promoted !== undefined;
  if (plan.canaryBatches > 0 && batch >= plan.canaryBatches && rollout.strategy.canaryMode === "pause" && !promoted) {
    return { continuing, fresh: [], needsPromote: true };
  }
  const inBatch = new Set(plan.batches[batch]);
  const members = refs.filter((ref) => inBatch.has(ref.node));
  const needsStage = (ref: NodeRef): boolean =>
    ref.state.inFlight?.step === "stage" || (!ref.state.inFlight && ref.state.track === "forward" && ref.state.todo[0] === "stage") || (ref.state.status === "rolled-back" && !rollout.failure);
  const everyoneStaged = !members.some(needsStage);
  const fresh: StepCommand[] = [];
  for (const ref of members) {
    if (hasBegun(ref.state) || ref.state.inFlight) continue;
    const retry = retryOf(rollout, ref, now);
    if (retry) {
      fresh.push(retry);
      continue;
    }
    if (ref.state.track !== "forward" || ref.state.todo.length === 0) continue;
    const next = nextOf(rollout, ref, now)!;
    if (next.step === "stage" || everyoneStaged) fresh.push(next);
  }
  return { continuing, fresh, needsPromote: false };
}

function fullStopWork(rollout: RolloutState, hop: number, now: number): Work {
  const plan = rollout.plan.hops[hop]!;
  const refs = nodesOf(rollout, hop);
  const active = (ref: NodeRef): boolean => ref.state.inFlight !== undefined || ref.state.todo.length > 0;
  const recovering = refs.some((ref) => ref.state.track === "recover" && active(ref));
  const candidates: { ref: NodeRef; head: NodeStep; next?: StepCommand }[] = [];
  for (const ref of refs) {
    if (recovering ? ref.state.track !== "recover" : ref.state.track !== "forward" && ref.state.status !== "rolled-back") continue;
    if (ref.state.inFlight) {
      candidates.push({ ref, head: ref.state.inFlight.step });
      continue;
    }
    const next = (recovering ? undefined : retryOf(rollout, ref, now)) ?? nextOf(rollout, ref, now);
    if (next) candidates.push({ ref, head: next.step, next });
  }
  if (candidates.length === 0) return { continuing: [], fresh: [], needsPromote: false };
  const rank = Math.min(...candidates.map((candidate) => FULL_STOP_RANK[candidate.head]));
  let ready = candidates.filter((candidate) => FULL_STOP_RANK[candidate.head] === rank);
  const leader = plan.batches[0]?.[0];
  const leaderFirst = !recovering && rank === FULL_STOP_RANK.upgrade && ready.some((candidate) => candidate.ref.node === leader && candidate.head === "upgrade");
  if (leaderFirst) ready = ready.filter((candidate) => candidate.ref.node === leader);
  const commands = ready.flatMap((candidate) => candidate.next ?? []);
  const windowOpen = refs.some((ref) => hasBegun(ref.state));
  return windowOpen ? { continuing: commands, fresh: [], needsPromote: false } : { continuing: [], fresh: commands, needsPromote: false };
}

export function workOf(rollout: RolloutState, hop: number, now: number): Work {
  return rollout.plan.hops[hop]!.mode === "rolling" ? rollingWork(rollout, hop, now) : fullStopWork(rollout, hop, now);
}

/** The next revert batch of a rolling hop: its finished nodes, last batch first, one batch at a time. */
export function revertWork(rollout: RolloutState, hop: number, now: number): StepCommand[] {
  const plan = rollout.plan.hops[hop]!;
  if (plan.mode !== "rolling") return [];
  const nodes = rollout.hops[hop]!.nodes;
  for (let batch = plan.batches.length - 1; batch >= 0; batch -= 1) {
    const members = plan.batches[batch]!;
    const toRevert = members.filter((node) => nodes[node]!.status === "done" && nodes[node]!.track === "forward");
    if (toRevert.length === 0) continue;
    return toRevert.map((node) => stepCommand(rollout, { hop, node }, revertSteps()[0]!, "revert", nodes[node]!.attempt, now));
  }
  return [];
}

export function anyNode(rollout: RolloutState, hop: number, test: (state: NodeHopState) => boolean): boolean {
  return hop < rollout.hops.length && Object.values(rollout.hops[hop]!.nodes).some(test);
}

export function nodesWhere(rollout: RolloutState, test: (state: NodeHopState) => boolean): string[] {
  return [
    ...new Set(
      rollout.hops.flatMap((hop) =>
        Object.entries(hop.nodes)
          .filter(([, state]) => test(state))
          .map(([node]) => node),
      ),
    ),
  ];
}
