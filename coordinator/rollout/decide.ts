import type { ErrorCode } from "../../shared/errors/index.ts";
import { formatMs } from "../../shared/format/index.ts";
import { isTerminal, type RolloutState } from "./state.ts";
import type { StepCommand } from "./step-command.ts";
import { anyNode, currentHop, hasBegun, inFlightCommand, inFlightSteps, nodesWhere, revertWork, workOf } from "./work.ts";

/**
 * "What should happen next" for a rollout, apart from "make it happen" (Nomad's deployment watcher).
 * The RolloutRunner loops over three pure functions:
 *
 *   decision = decideNext(state, now)                     // this file: reads the state through work.ts
 *   { state, events } = foldDecision(state, decision, now) // fold.ts: records what is about to be sent; save by CAS
 *   carry the decision out (send commands, run the preflight), publish the events
 *   { state, events } = foldReport(state, report)         // fold.ts: every reply, control, preflight result; save by CAS
 */

/** The phases decideNext moves to on its own; the terminal ones come with `finish`. */
export type SteadyPhase = "running" | "paused" | "waiting-promote" | "reverting";
export type FinalPhase = "succeeded" | "failed" | "aborted" | "reverted";

/**
 * The next thing to do:
 * - preflight: run the preflight against `plan.nodes` and report its result;
 * - send: send these commands (stage a batch, a node's next step, a full-stop step, a recovery or
 *   revert step); foldDecision marks them in flight first;
 * - expire: these in-flight steps passed their deadline; foldDecision folds them as timed out;
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
  // Steps in flight as recorded; their commands are built only for a decision that lists them.
  const flights = inFlightSteps(rollout);
  const expired = flights.filter((ref) => now >= ref.flight.deadlineAt);
  if (expired.length > 0) return { kind: "expire", commands: expired.map((ref) => inFlightCommand(rollout, ref)) };

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
    const waiting = flights.map((ref) => `${ref.flight.step} on node ${ref.node}`);
    return {
      kind: "fail",
      code: "TIMEOUT",
      message: `no node finished its hop within the progress deadline (${formatMs(strategy.progressDeadlineMs)})${waiting.length > 0 ? `; still waiting for ${listSome(waiting)}` : ""}`,
    };
  }

  const hop = currentHop(rollout);
  if (hop >= rollout.hops.length) {
    return { kind: "finish", phase: "succeeded", reason: `every node runs ${rollout.target}` };
  }

  const work = workOf(rollout, hop, now);
  const busy = flights.length > 0 || anyNode(rollout, hop, hasBegun);
  let wakeAt = watchProgress ? progressDeadline : Infinity;
  for (const ref of flights) wakeAt = Math.min(wakeAt, ref.flight.deadlineAt);
  const wait = (reason: "in-flight" | "promote" | "resume"): Decision => {
    // The awaited steps' commands are built when first read (the state never changes under them): a
    // drive reads them only when one of those steps does not run in its process (after a takeover,
    // or a retry's back-off), and a fleet of thousands waits after almost every commit.
    let inFlight: StepCommand[] | undefined;
    const decision: Extract<Decision, { kind: "wait" }> = {
      kind: "wait",
      for: reason,
      get inFlight() {
        return (inFlight ??= flights.map((ref) => inFlightCommand(rollout, ref)));
      },
    };
    if (Number.isFinite(wakeAt)) decision.wakeAt = wakeAt;
    return decision;
  };
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
    const broken = failedNodes.length > 0 ? `; needs an operator: ${listSome(failedNodes)}` : "";
    return { kind: "finish", phase: "failed", reason: `${rollout.failure.message}${revertBroken ? "; the revert failed" : ""}${broken}` };
  }

  if (controls.pause) {
    if (busy) return wait("in-flight");
    return rollout.phase === "paused" ? wait("resume") : { kind: "set-phase", phase: "paused", reason: `paused by ${controls.pause.by}` };
  }
  if (rollout.phase === "paused") return { kind: "set-phase", phase: "running", reason: `resumed by ${controls.resume?.by ?? "an operator"}` };
  if (rollout.phase === "waiting-promote") {
    if (rollout.hops[hop]!.promoted) return { kind: "set-phase", phase: "running", reason: `promoted by ${rollout.hops[hop]!.promoted.by}` };
    return wait("promote");
  }

  if (work.fresh.length > 0) return send(work.fresh);
  if (busy) return wait("in-flight");
  if (work.needsPromote) {
    return { kind: "set-phase", phase: "waiting-promote", reason: `the canaries of ${rollout.plan.hops[hop]!.from} -> ${rollout.plan.hops[hop]!.to} are healthy; run \`hoist rollout promote\`` };
  }
  return { kind: "fail", code: "INTERNAL", message: `hop ${hop + 1} cannot make progress (nothing to send, nothing in flight); this is a bug` };
}

/** The first items of a list and how many more: a message stays short on a fleet of thousands (it is kept in the rollout header). */
export function listSome(items: string[], shown = 10): string {
  return items.length <= shown ? items.join(", ") : `${items.slice(0, shown).join(", ")} and ${items.length - shown} more`;
}
