import type { ErrorCode } from "../../shared/errors/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import { formatMs } from "../../shared/format/index.ts";
import type { HopMode } from "../plan/hop-strategy.ts";
import {
  forwardSteps,
  isTerminal,
  revertSteps,
  stepKey,
  type HistoryEntry,
  type NodeHopState,
  type NodeHopStatus,
  type NodeStep,
  type RolloutPhase,
  type RolloutPlannedHop,
  type RolloutState,
  type Track,
} from "./state.ts";

/**
 * "What should happen next" for a rollout, apart from "make it happen" (Nomad's deployment watcher).
 * Three pure functions; the RolloutRunner loops over them:
 *
 *   decision = decideNext(state, now)
 *   state = applyDecision(state, decision, now)   // records what is about to be sent; save by CAS
 *   carry the decision out (send commands, run the preflight, publish the phase event)
 *   state = applyReport(state, report)            // every reply, control request, preflight result; save by CAS
 *
 * Units of work. In a rolling hop a node's pipeline (drain -> upgrade -> rejoin -> verify, or a
 * recovery or revert) is one unit; in a full-stop hop the whole downtime window (stop every node ->
 * upgrade the leader -> upgrade the rest -> start every node -> verify) is one unit. Pause, abort and
 * failures stop new units from starting; units already begun always run to their end, so no node is
 * left drained and no cluster is left stopped. Staging (no downtime) is not a unit.
 */

/** One command to one node's agent. The key is the idempotency key the agent records the outcome under. */
export interface StepCommand {
  key: string;
  rollout: string;
  cluster: string;
  service: string;
  node: string;
  hop: number;
  step: NodeStep;
  track: Track;
  attempt: number;
  /** The hop's versions: forward goes from -> to; recover and revert go back to `from`. */
  from: string;
  to: string;
  mode: HopMode;
  downgrade: boolean;
  /** The release to stage. */
  artifact: RolloutPlannedHop["artifact"];
  /** The hop's migrations as the coordinator's catalog lists them (sent with the upgrade). */
  migrations: RolloutPlannedHop["migrations"];
  /** Full-stop: the node that upgrades alone first (and runs the cluster-once migrations). */
  leader: boolean;
  /** The health gate of verify (and of the agent's own verify inside upgrade and rollback). */
  minHealthyMs: number;
  healthyDeadlineMs: number;
  sentAt: number;
  /** Past this without an answer the step is timed out (decideNext returns `expire`). */
  deadlineAt: number;
}

/** The phases decideNext moves to on its own; the terminal ones come with `finish`. */
export type SteadyPhase = "running" | "paused" | "waiting-promote" | "reverting";
export type FinalPhase = "succeeded" | "failed" | "aborted" | "reverted";

/**
 * The next thing to do:
 * - preflight: run the preflight against `plan.nodes` and report its result;
 * - send: send these commands (stage a batch, a node's next step, a full-stop step, a recovery or
 *   revert step); applyDecision marks them in flight first;
 * - expire: these in-flight steps passed their deadline; applyDecision folds them as timed out;
 * - fail: the progress deadline passed; the rollout stops taking new work (halt or revert by policy);
 * - set-phase: move to a steady phase (paused, waiting-promote, reverting, running again);
 * - finish: move to a terminal phase;
 * - wait: nothing to start now. `inFlight` lists the steps awaited, with their recorded keys: a
 *   coordinator that took over re-sends each one it is not already waiting on, with the same key
 *   (never a new attempt). Decide again on any report or control, or at `wakeAt`;
 * - none: the rollout is over.
 */
export type Decision =
  | { kind: "preflight" }
  | { kind: "send"; commands: StepCommand[] }
  | { kind: "expire"; commands: StepCommand[] }
  | { kind: "fail"; code: ErrorCode; message: string }
  | { kind: "set-phase"; phase: SteadyPhase; reason: string }
  | { kind: "finish"; phase: FinalPhase; reason: string }
  | { kind: "wait"; for: "in-flight" | "promote" | "resume"; inFlight: StepCommand[]; wakeAt?: number }
  | { kind: "none" };

/**
 * How a step ended, as the runner maps the agent's reply:
 * - ok: done (upgrade `committed` or `noop`, rollback `rolled-back`, any other step's success);
 * - rolled-back: the step failed and the agent put the node back as it was before the step
 *   (upgrade `rolled-back` or `aborted`);
 * - failed: the step failed; for upgrade and rollback this means the agent could not restore the node;
 * - timed-out: no answer in time; the node's state is unknown, so the worst is assumed.
 */
export type StepOutcome = "ok" | "rolled-back" | "failed" | "timed-out";

export type ControlName = "pause" | "resume" | "abort" | "promote";

export type Report =
  | { kind: "step"; key: string; outcome: StepOutcome; error?: { code: string; message: string }; at: number }
  | { kind: "preflight"; ok: boolean; messages: string[]; at: number }
  /** `hop` for promote: which hop's canaries (default: the current hop). */
  | { kind: "control"; control: ControlName; by: string; at: number; hop?: number };

// ---------------------------------------------------------------------------------------------
// Reading the state

/** Order of steps in a full-stop hop: every node finishes one rank before any node starts the next. */
const RANK: Record<NodeStep, number> = { stage: 0, drain: 1, stop: 1, upgrade: 2, rollback: 2, start: 3, rejoin: 3, verify: 4 };

/** Where a forward step leaves the node once done (rollback is never a forward step; listed for completeness). */
const FORWARD_POSITION: Record<NodeStep, NodeHopStatus> = {
  stage: "staged",
  drain: "drained",
  stop: "stopped",
  upgrade: "upgraded",
  start: "started",
  rejoin: "rejoined",
  verify: "done",
  rollback: "recovering",
};

interface NodeRef {
  hop: number;
  node: string;
  state: NodeHopState;
}

function nodesOf(rollout: RolloutState, hop: number): NodeRef[] {
  const order = [...rollout.plan.hops[hop]!.nodes, ...rollout.plan.hops[hop]!.alreadyOnTarget];
  return order.map((node) => ({ hop, node, state: rollout.hops[hop]!.nodes[node]! }));
}

function isComplete(state: NodeHopState): boolean {
  return state.status === "done" || state.status === "skipped";
}

/** The first hop that is not done on every node (hops.length when all are). */
export function currentHop(rollout: RolloutState): number {
  const index = rollout.hops.findIndex((hop) => !Object.values(hop.nodes).every(isComplete));
  return index === -1 ? rollout.hops.length : index;
}

/** In the middle of a unit of work: a step with downtime sent or done, and the track not finished. */
function hasBegun(state: NodeHopState): boolean {
  if (state.inFlight) return state.inFlight.step !== "stage";
  if (state.todo.length === 0) return false;
  if (state.track !== "forward") return true;
  return state.status !== "pending" && state.status !== "staged";
}

function command(rollout: RolloutState, ref: { hop: number; node: string }, step: NodeStep, track: Track, attempt: number, now: number): StepCommand {
  const plan = rollout.plan.hops[ref.hop]!;
  const { strategy } = rollout;
  return {
    key: stepKey({ rollout: rollout.id, node: ref.node, hop: ref.hop, step, track, attempt }),
    rollout: rollout.id,
    cluster: rollout.cluster,
    service: rollout.service,
    node: ref.node,
    hop: ref.hop,
    step,
    track,
    attempt,
    from: plan.from,
    to: plan.to,
    mode: plan.mode,
    downgrade: plan.downgrade,
    artifact: plan.artifact,
    migrations: plan.migrations,
    leader: plan.mode === "full-stop" && plan.batches[0]?.[0] === ref.node,
    minHealthyMs: strategy.minHealthyMs,
    healthyDeadlineMs: strategy.healthyDeadlineMs,
    sentAt: now,
    deadlineAt: now + stepDeadlineMs(rollout, step),
  };
}

/**
 * How long the verify step may stay unanswered beyond the health gate's own deadline: the gate
 * first reads the node's gRPC address from KV and opens its Watch, and its verdict
 * (HEALTH_CHECK_FAILED naming the last status) must reach the state before the step expires,
 * or a flapping release is recorded as a step that got no answer.
 */
export function verifyMarginMs(healthyDeadlineMs: number): number {
  return Math.max(5000, Math.ceil(healthyDeadlineMs / 10));
}

/**
 * How long a step may stay unanswered: for verify, healthyDeadlineMs plus `verifyMarginMs` (the
 * gate ends itself first and reports why); progressDeadlineMs for the rest.
 */
export function stepDeadlineMs(rollout: Pick<RolloutState, "strategy">, step: NodeStep): number {
  const { healthyDeadlineMs, progressDeadlineMs } = rollout.strategy;
  return step === "verify" ? healthyDeadlineMs + verifyMarginMs(healthyDeadlineMs) : progressDeadlineMs;
}

/** Every step in flight, as the command that was sent (same key, same deadline). */
export function inFlightCommands(rollout: RolloutState): StepCommand[] {
  const commands: StepCommand[] = [];
  rollout.hops.forEach((_, hop) => {
    for (const ref of nodesOf(rollout, hop)) {
      const flight = ref.state.inFlight;
      if (!flight) continue;
      commands.push({ ...command(rollout, ref, flight.step, flight.track, flight.attempt, flight.sentAt), key: flight.key, deadlineAt: flight.deadlineAt });
    }
  });
  return commands;
}

/** The next command of a node that is not in flight, or undefined when it has nothing to do. */
function nextOf(rollout: RolloutState, ref: NodeRef, now: number): StepCommand | undefined {
  if (ref.state.inFlight || ref.state.todo.length === 0) return undefined;
  return command(rollout, ref, ref.state.todo[0]!, ref.state.track, ref.state.attempt, now);
}

/** A rolled-back node tried again: a new attempt, new keys, from the first forward step. */
function retryOf(rollout: RolloutState, ref: NodeRef, now: number): StepCommand | undefined {
  if (ref.state.status !== "rolled-back" || rollout.failure) return undefined;
  const mode = rollout.plan.hops[ref.hop]!.mode;
  return command(rollout, ref, forwardSteps(mode, ref.state.onTarget)[0]!, "forward", ref.state.attempt + 1, now);
}

interface Work {
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
  const members = refs.filter((ref) => plan.batches[batch]!.includes(ref.node));
  const needsStage = (ref: NodeRef): boolean =>
    ref.state.inFlight?.step === "stage" ||
    (!ref.state.inFlight && ref.state.track === "forward" && ref.state.todo[0] === "stage") ||
    (ref.state.status === "rolled-back" && !rollout.failure);
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
  const rank = Math.min(...candidates.map((candidate) => RANK[candidate.head]));
  let ready = candidates.filter((candidate) => RANK[candidate.head] === rank);
  const leader = plan.batches[0]?.[0];
  const leaderFirst = !recovering && rank === RANK.upgrade && ready.some((candidate) => candidate.ref.node === leader && candidate.head === "upgrade");
  if (leaderFirst) ready = ready.filter((candidate) => candidate.ref.node === leader);
  const commands = ready.flatMap((candidate) => candidate.next ?? []);
  const windowOpen = refs.some((ref) => hasBegun(ref.state));
  return windowOpen ? { continuing: commands, fresh: [], needsPromote: false } : { continuing: [], fresh: commands, needsPromote: false };
}

function workOf(rollout: RolloutState, hop: number, now: number): Work {
  return rollout.plan.hops[hop]!.mode === "rolling" ? rollingWork(rollout, hop, now) : fullStopWork(rollout, hop, now);
}

/** The next revert batch of a rolling hop: its finished nodes, last batch first, one batch at a time. */
function revertWork(rollout: RolloutState, hop: number, now: number): StepCommand[] {
  const plan = rollout.plan.hops[hop]!;
  if (plan.mode !== "rolling") return [];
  const nodes = rollout.hops[hop]!.nodes;
  for (let batch = plan.batches.length - 1; batch >= 0; batch -= 1) {
    const members = plan.batches[batch]!;
    const toRevert = members.filter((node) => nodes[node]!.status === "done" && nodes[node]!.track === "forward");
    if (toRevert.length === 0) continue;
    return toRevert.map((node) => command(rollout, { hop, node }, revertSteps()[0]!, "revert", nodes[node]!.attempt, now));
  }
  return [];
}

function anyNode(rollout: RolloutState, hop: number, test: (state: NodeHopState) => boolean): boolean {
  return hop < rollout.hops.length && Object.values(rollout.hops[hop]!.nodes).some(test);
}

function nodesWhere(rollout: RolloutState, test: (state: NodeHopState) => boolean): string[] {
  return [...new Set(rollout.hops.flatMap((hop) => Object.entries(hop.nodes).filter(([, state]) => test(state)).map(([node]) => node)))];
}

// ---------------------------------------------------------------------------------------------
// Deciding

/**
 * Decides what the rollout should do next. Pure: reads only `rollout` and `now`.
 *
 * In order: nothing after a terminal phase; in-flight steps past their deadline expire; the preflight
 * runs before anything else; a running rollout with no node finished within progressDeadlineMs fails;
 * then units already begun carry on whatever else holds, and once nothing is in progress: abort ends
 * the rollout, a failure halts it (or reverts the hop's finished nodes batch by batch, last batch
 * first, under autoRevert), a pause request pauses it, canaries wait for promote (canaryMode pause),
 * and otherwise the next batch starts: stage every node of the batch, then each node's pipeline.
 * A node whose hop is done is never scheduled again; a step in flight is only ever awaited (its key
 * is in `wait.inFlight`), never sent as a new attempt.
 */
export function decideNext(rollout: RolloutState, now: number): Decision {
  if (isTerminal(rollout.phase)) return { kind: "none" };
  const inFlight = inFlightCommands(rollout);
  const expired = inFlight.filter((step) => now >= step.deadlineAt);
  if (expired.length > 0) return { kind: "expire", commands: expired };

  const { strategy, controls } = rollout;
  if (rollout.phase === "pending" || rollout.phase === "preflight") {
    if (controls.abort) return { kind: "finish", phase: "aborted", reason: `aborted by ${controls.abort.by} before the rollout started` };
    if (rollout.phase === "pending" || !rollout.preflight) return { kind: "preflight" };
    if (!rollout.preflight.ok) {
      return { kind: "finish", phase: "failed", reason: `preflight failed:\n  ${rollout.preflight.messages.join("\n  ")}` };
    }
    return { kind: "set-phase", phase: "running", reason: "preflight passed" };
  }

  const progressDeadline = rollout.progressAt + strategy.progressDeadlineMs;
  const watchProgress = rollout.phase === "running" && !rollout.failure && !controls.abort;
  if (watchProgress && now >= progressDeadline) {
    const waiting = inFlight.map((step) => `${step.step} on node ${step.node}`);
    return {
      kind: "fail",
      code: "TIMEOUT",
      message: `no node finished its hop within the progress deadline (${formatMs(strategy.progressDeadlineMs)})${waiting.length > 0 ? `; still waiting for ${waiting.join(", ")}` : ""}`,
    };
  }

  const hop = currentHop(rollout);
  if (hop >= rollout.hops.length) {
    return { kind: "finish", phase: "succeeded", reason: `every node runs ${rollout.target}` };
  }

  const work = workOf(rollout, hop, now);
  const busy = inFlight.length > 0 || anyNode(rollout, hop, hasBegun);
  const wakeAt = Math.min(...inFlight.map((step) => step.deadlineAt), watchProgress ? progressDeadline : Infinity);
  const wait = (reason: "in-flight" | "promote" | "resume"): Decision =>
    Number.isFinite(wakeAt) ? { kind: "wait", for: reason, inFlight, wakeAt } : { kind: "wait", for: reason, inFlight };
  const send = (commands: StepCommand[]): Decision => ({ kind: "send", commands });

  if (work.continuing.length > 0) return send(work.continuing);

  if (controls.abort) {
    if (busy) return wait("in-flight");
    return { kind: "finish", phase: "aborted", reason: `aborted by ${controls.abort.by}` };
  }

  if (rollout.failure) {
    if (busy) return wait("in-flight");
    const failedNodes = nodesWhere(rollout, (state) => state.status === "failed");
    const revertBroken = anyNode(rollout, hop, (state) => state.track === "revert" && state.status === "failed");
    if (strategy.autoRevert && !revertBroken) {
      const revert = revertWork(rollout, hop, now);
      if (revert.length > 0) {
        if (controls.pause) {
          return rollout.phase === "paused" ? wait("resume") : { kind: "set-phase", phase: "paused", reason: `paused by ${controls.pause.by}` };
        }
        if (rollout.phase !== "reverting") {
          return { kind: "set-phase", phase: "reverting", reason: `${rollout.failure.message}; reverting the nodes already upgraded` };
        }
        return send(revert);
      }
      if (failedNodes.length === 0) {
        return { kind: "finish", phase: "reverted", reason: `${rollout.failure.message}; every upgraded node of the hop went back to ${rollout.plan.hops[hop]!.from}` };
      }
    }
    const broken = failedNodes.length > 0 ? `; needs an operator: ${failedNodes.join(", ")}` : "";
    return { kind: "finish", phase: "failed", reason: `${rollout.failure.message}${revertBroken ? "; the revert failed" : ""}${broken}` };
  }

  if (controls.pause) {
    if (busy) return wait("in-flight");
    return rollout.phase === "paused" ? wait("resume") : { kind: "set-phase", phase: "paused", reason: `paused by ${controls.pause.by}` };
  }
  if (rollout.phase === "paused") return { kind: "set-phase", phase: "running", reason: `resumed by ${controls.resume?.by ?? "an operator"}` };
  if (rollout.phase === "waiting-promote") {
    if (rollout.hops[hop]!.promoted) return { kind: "set-phase", phase: "running", reason: `promoted by ${rollout.hops[hop]!.promoted!.by}` };
    return wait("promote");
  }

  if (work.fresh.length > 0) return send(work.fresh);
  if (busy) return wait("in-flight");
  if (work.needsPromote) {
    return { kind: "set-phase", phase: "waiting-promote", reason: `the canaries of ${rollout.plan.hops[hop]!.from} -> ${rollout.plan.hops[hop]!.to} are healthy; run \`hoist rollout promote\`` };
  }
  return { kind: "fail", code: "INTERNAL", message: `hop ${hop + 1} cannot make progress (nothing to send, nothing in flight); this is a bug` };
}

// ---------------------------------------------------------------------------------------------
// Folding decisions and reports into the state

function clone(rollout: RolloutState): RolloutState {
  return structuredClone(rollout);
}

function record(rollout: RolloutState, entry: HistoryEntry): void {
  rollout.history.push(entry);
}

function setPhase(rollout: RolloutState, phase: RolloutPhase, at: number, message: string): void {
  if (rollout.phase === phase) return;
  record(rollout, { at, event: "phase", from: rollout.phase, to: phase, message });
  rollout.phase = phase;
}

function setFailure(rollout: RolloutState, failure: NonNullable<RolloutState["failure"]>): void {
  if (rollout.failure) return;
  rollout.failure = failure;
  record(rollout, { at: failure.at, event: "failure", message: failure.message, ...(failure.node ? { node: failure.node } : {}), ...(failure.hop !== undefined ? { hop: failure.hop } : {}) });
}

/** The cursor follows the state: the current hop, and its first batch not done (the revert batch while reverting). */
function updateCursor(rollout: RolloutState): void {
  const hop = currentHop(rollout);
  if (hop >= rollout.hops.length) {
    rollout.cursor = { hop: Math.max(0, rollout.hops.length - 1), batch: Math.max(0, (rollout.plan.hops.at(-1)?.batches.length ?? 1) - 1) };
    return;
  }
  const plan = rollout.plan.hops[hop]!;
  const nodes = rollout.hops[hop]!.nodes;
  const reverting = Object.values(nodes).some((state) => state.track === "revert");
  let batch: number;
  if (reverting) {
    const inRevert = plan.batches.findIndex((members) => members.some((node) => nodes[node]!.track === "revert" && (nodes[node]!.todo.length > 0 || nodes[node]!.inFlight)));
    batch = inRevert === -1 ? rollout.cursor.batch : inRevert;
  } else {
    batch = plan.batches.findIndex((members) => members.some((node) => !isComplete(nodes[node]!)));
  }
  rollout.cursor = { hop, batch: Math.max(0, batch) };
}

/**
 * The steps that bring a node back to its hop's `from` and into service, from where it stands.
 * Rolling: undo the upgrade if it happened, then rejoin and pass the health gate. Full-stop (the
 * whole hop goes back): stop what runs `to`, undo the upgrade, start what is stopped, verify.
 */
export function recoverySteps(mode: HopMode, status: NodeHopStatus, onTarget: boolean): NodeStep[] {
  if (mode === "rolling") {
    switch (status) {
      case "drained":
        return ["rejoin", "verify"];
      case "upgraded":
      case "rejoined":
      case "done":
        return ["rollback", "rejoin", "verify"];
      default:
        return [];
    }
  }
  if (onTarget) return status === "stopped" ? ["start", "verify"] : [];
  switch (status) {
    case "stopped":
      return ["start", "verify"];
    case "upgraded":
      return ["rollback", "verify"];
    case "started":
    case "done":
      return ["stop", "rollback", "verify"];
    default:
      return [];
  }
}

/** Where a failed forward step leaves the node: as before it (rolled back), broken, or the worst case. */
function positionAfterFailure(step: NodeStep, outcome: StepOutcome, before: NodeHopStatus): NodeHopStatus {
  if (outcome === "rolled-back" || step === "verify") return before;
  if (outcome === "failed" && step === "upgrade") return "failed";
  return FORWARD_POSITION[step];
}

function settle(rollout: RolloutState, ref: { hop: number; node: string }, state: NodeHopState, at: number): void {
  state.todo = [];
  if (state.track === "forward") {
    state.status = "done";
    state.doneAt = at;
    rollout.progressAt = Math.max(rollout.progressAt, at);
  } else if (state.track === "recover") {
    state.status = "rolled-back";
  } else {
    state.status = "reverted";
    record(rollout, { at, event: "reverted", node: ref.node, hop: ref.hop });
  }
}

/** Puts a node on the recover track from where it stands; settles it at once when nothing is to undo. */
function startRecovery(rollout: RolloutState, ref: { hop: number; node: string }, state: NodeHopState, at: number): void {
  const plan = rollout.plan.hops[ref.hop]!;
  state.track = "recover";
  if (state.inFlight) {
    state.todo = [];
    return;
  }
  state.todo = recoverySteps(plan.mode, state.status, state.onTarget);
  if (state.todo.length === 0) settle(rollout, ref, state, at);
  else state.status = "recovering";
}

function failNode(rollout: RolloutState, ref: { hop: number; node: string }, state: NodeHopState, step: NodeStep, error: { code: string; message: string }, at: number): void {
  state.status = "failed";
  state.todo = [];
  setFailure(rollout, {
    code: error.code,
    message: `node ${ref.node} could not be restored after ${step} failed (${error.message}); it needs an operator`,
    at,
    node: ref.node,
    hop: ref.hop,
  });
}

function applyStepReport(rollout: RolloutState, report: Extract<Report, { kind: "step" }>): RolloutState {
  let found: NodeRef | undefined;
  rollout.hops.forEach((_, hop) => {
    for (const ref of nodesOf(rollout, hop)) if (ref.state.inFlight?.key === report.key) found = ref;
  });
  if (!found) return rollout;
  const next = clone(rollout);
  const ref = { hop: found.hop, node: found.node };
  const state = next.hops[ref.hop]!.nodes[ref.node]!;
  const plan = next.plan.hops[ref.hop]!;
  const flight = state.inFlight!;
  delete state.inFlight;
  const switched = flight.track !== state.track;

  if (report.outcome === "ok") {
    if (switched) {
      // A forward step answered after the whole full-stop hop turned to recovery: take its effect, then recover.
      state.status = FORWARD_POSITION[flight.step];
      state.todo = recoverySteps(plan.mode, state.status, state.onTarget);
      if (state.todo.length === 0) settle(next, ref, state, report.at);
      else state.status = "recovering";
    } else {
      state.todo.shift();
      if (state.track === "forward" && state.todo.length > 0) state.status = FORWARD_POSITION[flight.step];
      if (state.todo.length === 0) settle(next, ref, state, report.at);
    }
    updateCursor(next);
    next.updatedAt = report.at;
    return next;
  }

  const error = report.error ?? { code: report.outcome === "timed-out" ? "TIMEOUT" : "INTERNAL", message: `${flight.step} ${report.outcome}` };
  next.failures += 1;
  state.failures += 1;
  state.lastError = { step: flight.step, code: error.code, message: error.message, at: report.at };
  record(next, { at: report.at, event: "node-failed", node: ref.node, hop: ref.hop, message: `${flight.track === "forward" ? "" : `${flight.track} `}${flight.step} ${report.outcome}: ${error.message}` });

  if (flight.track !== "forward") {
    failNode(next, ref, state, flight.step, error, report.at);
  } else {
    const position = positionAfterFailure(flight.step, report.outcome, state.status);
    if (position === "failed") {
      failNode(next, ref, state, flight.step, error, report.at);
    } else {
      state.status = position;
      if (next.failures > next.strategy.maxFailures) {
        setFailure(next, {
          code: error.code,
          message: `${flight.step} failed on node ${ref.node} (${error.message}); ${next.failures} failure${next.failures === 1 ? "" : "s"}, maxFailures is ${next.strategy.maxFailures}`,
          at: report.at,
          node: ref.node,
          hop: ref.hop,
        });
      }
      state.track = "recover";
      state.todo = recoverySteps(plan.mode, position, state.onTarget);
      if (state.todo.length === 0) settle(next, ref, state, report.at);
      else state.status = "recovering";
    }
    // A full-stop hop whose downtime began goes back as a whole; a node already in that recovery has nothing to add.
    if (!switched && plan.mode === "full-stop") recoverWholeHop(next, ref.hop, report.at);
  }
  updateCursor(next);
  next.updatedAt = report.at;
  return next;
}

/** A full-stop hop failed during its downtime: every node goes back to `from` (and is started again). */
function recoverWholeHop(rollout: RolloutState, hop: number, at: number): void {
  const anyDowntime = Object.values(rollout.hops[hop]!.nodes).some((state) => hasBegun(state) || (state.track === "recover" && state.todo.length > 0));
  if (!anyDowntime) return;
  for (const ref of nodesOf(rollout, hop)) {
    const state = ref.state;
    if (state.track !== "forward" || state.status === "failed" || state.status === "skipped" || state.status === "rolled-back") continue;
    startRecovery(rollout, ref, state, at);
  }
  record(rollout, { at, event: "hop-recovery", hop, message: `hop ${rollout.plan.hops[hop]!.from} -> ${rollout.plan.hops[hop]!.to} goes back to ${rollout.plan.hops[hop]!.from} on every node` });
}

function applyControl(rollout: RolloutState, report: Extract<Report, { kind: "control" }>): RolloutState {
  if (isTerminal(rollout.phase)) return rollout;
  const next = clone(rollout);
  const request = { by: report.by, at: report.at };
  switch (report.control) {
    case "pause":
      next.controls.pause = request;
      break;
    case "resume":
      delete next.controls.pause;
      next.controls.resume = request;
      break;
    case "abort":
      next.controls.abort ??= request;
      break;
    case "promote": {
      next.controls.promote = request;
      const hop = report.hop ?? currentHop(next);
      if (hop < next.hops.length) next.hops[hop]!.promoted ??= request;
      break;
    }
  }
  record(next, { at: report.at, event: report.control, by: report.by, ...(report.control === "promote" ? { hop: report.hop ?? currentHop(next) } : {}) });
  next.updatedAt = report.at;
  return next;
}

/**
 * Folds one report into the state. Pure. A step report whose key is not in flight (a repeat reply,
 * or the reply to a step already timed out) changes nothing. Controls are recorded as requests;
 * decideNext acts on them. The preflight result is stored for decideNext while the phase is preflight.
 *
 * A failed forward step counts against maxFailures and puts the node on the recover track from
 * where it stands (rolled back by the agent: only rejoin; upgraded: roll back, rejoin, verify). In a
 * full-stop hop whose downtime began, every node recovers. A failed upgrade (the agent could not
 * restore) or any failed recover or revert step leaves the node `failed` and halts the rollout.
 */
export function applyReport(rollout: RolloutState, report: Report): RolloutState {
  switch (report.kind) {
    case "step":
      return applyStepReport(rollout, report);
    case "control":
      return applyControl(rollout, report);
    case "preflight": {
      if (rollout.phase !== "preflight") return rollout;
      const next = clone(rollout);
      next.preflight = { ok: report.ok, messages: [...report.messages], at: report.at };
      record(next, { at: report.at, event: "preflight", message: report.ok ? "ok" : report.messages.join("; ") });
      next.updatedAt = report.at;
      return next;
    }
  }
}

function markInFlight(rollout: RolloutState, step: StepCommand): void {
  const state = rollout.hops[step.hop]?.nodes[step.node];
  if (!state) throw new HoistError("INTERNAL", `rollout ${rollout.id} has no node ${step.node} in hop ${step.hop}`);
  if (state.inFlight) throw new HoistError("INTERNAL", `node ${step.node} already has ${state.inFlight.step} in flight (${state.inFlight.key})`);
  if (step.track !== state.track || step.attempt !== state.attempt) {
    const mode = rollout.plan.hops[step.hop]!.mode;
    state.track = step.track;
    state.attempt = step.attempt;
    state.todo = step.track === "revert" ? revertSteps() : forwardSteps(mode, state.onTarget);
    state.status = step.track === "revert" ? "reverting" : "pending";
    if (step.track === "revert") record(rollout, { at: step.sentAt, event: "revert", node: step.node, hop: step.hop });
  }
  if (state.todo[0] !== step.step) {
    throw new HoistError("INTERNAL", `node ${step.node} is not due for ${step.step} (next: ${state.todo[0] ?? "nothing"})`);
  }
  state.inFlight = { step: step.step, track: step.track, attempt: step.attempt, key: step.key, sentAt: step.sentAt, deadlineAt: step.deadlineAt };
}

/**
 * Folds a decision into the state before it is carried out (the journal is written before the step):
 * `send` marks each command in flight under its key (and starts a retry or a revert on the node);
 * `preflight` enters the preflight phase; `expire` folds each step as timed out; `fail` records the
 * failure; `set-phase` and `finish` move the phase. `wait` and `none` return the state unchanged.
 * Throws INTERNAL when a command does not fit the state (a bug, or a decision from an older state).
 */
export function applyDecision(rollout: RolloutState, decision: Decision, now: number): RolloutState {
  switch (decision.kind) {
    case "wait":
    case "none":
      return rollout;
    case "expire": {
      let next = rollout;
      for (const step of decision.commands) {
        next = applyStepReport(next, {
          kind: "step",
          key: step.key,
          outcome: "timed-out",
          error: { code: "TIMEOUT", message: `${step.step} on node ${step.node} got no answer within ${formatMs(step.deadlineAt - step.sentAt)}` },
          at: now,
        });
      }
      return next;
    }
    default:
      break;
  }
  const next = clone(rollout);
  switch (decision.kind) {
    case "preflight":
      setPhase(next, "preflight", now, "checking every node");
      delete next.preflight;
      break;
    case "send":
      for (const step of decision.commands) markInFlight(next, step);
      break;
    case "fail":
      setFailure(next, { code: decision.code, message: decision.message, at: now });
      break;
    case "set-phase":
      if (decision.phase === "running") next.progressAt = now;
      setPhase(next, decision.phase, now, decision.reason);
      break;
    case "finish":
      setPhase(next, decision.phase, now, decision.reason);
      break;
  }
  updateCursor(next);
  next.updatedAt = now;
  return next;
}
