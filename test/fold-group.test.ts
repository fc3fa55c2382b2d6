import { describe, expect, it } from "vitest";
import type { StrategyInput } from "../coordinator/plan/strategy.ts";
import { decideNext } from "../coordinator/rollout/decide.ts";
import { foldDecision, foldReport, foldStepReports, type StepReport } from "../coordinator/rollout/fold.ts";
import type { StepOutcome } from "../coordinator/rollout/outcomes.ts";
import type { RolloutState } from "../coordinator/rollout/state.ts";
import type { StepCommand } from "../coordinator/rollout/step-command.ts";
import { inFlightCommands } from "../coordinator/rollout/work.ts";
import { deepFreeze, nodes, rollout, T0 } from "./helpers/rollout-fixtures.ts";

/**
 * The runner folds every step result that came in since it last decided in one go
 * (foldStepReports: one copy of the rollout, one cursor update). That must be exactly what folding
 * the same results one by one gives, state and events, whatever the results say: checked at every
 * point of whole rollouts, with failures, recoveries, reverts and a full-stop hop.
 */

type Outcome = (command: StepCommand) => StepOutcome;

function running(state: RolloutState): RolloutState {
  let next = foldDecision(state, { kind: "preflight" }, T0).state;
  next = foldReport(next, { kind: "preflight", ok: true, messages: [], at: T0 }).state;
  return foldDecision(next, { kind: "set-phase", phase: "running", reason: "test" }, T0).state;
}

function reportsFor(commands: StepCommand[], outcome: Outcome, at: number): StepReport[] {
  const reports = commands.map((command): StepReport => {
    const result = outcome(command);
    return { kind: "step", key: command.key, outcome: result, at, ...(result === "ok" ? {} : { error: { code: "HOOK_FAILED", message: `${command.step} broke` } }) };
  });
  // A repeated reply and one for a key never sent: both change nothing, in a group as alone.
  if (reports[0]) reports.push({ ...reports[0], at: at + 1 });
  reports.push({ kind: "step", key: "r1/nobody/0/stage/1", outcome: "ok", at });
  return reports;
}

/** Drives a rollout where every answer arrives at once; at each step, folds the group both ways and compares. */
function checkWholeRollout(initial: RolloutState, outcome: Outcome): { state: RolloutState; groups: number } {
  let state = running(initial);
  let now = T0;
  let groups = 0;
  for (let iteration = 0; iteration < 200; iteration++) {
    now += 1000;
    const decision = decideNext(state, now);
    if (decision.kind === "none") return { state, groups };
    if (decision.kind !== "wait") {
      state = foldDecision(state, decision, now).state;
      continue;
    }
    const inFlight = inFlightCommands(state);
    expect(inFlight.length, `blocked: ${decision.for}`).toBeGreaterThan(0);
    const reports = reportsFor(inFlight, outcome, now);
    deepFreeze(state);
    let oneByOne = { state, events: [] as ReturnType<typeof foldReport>["events"] };
    for (const report of reports) {
      const folded = foldReport(oneByOne.state, report);
      oneByOne = { state: folded.state, events: [...oneByOne.events, ...folded.events] };
    }
    const together = foldStepReports(state, reports);
    expect(together.state).toEqual(oneByOne.state);
    expect(together.events).toEqual(oneByOne.events);
    groups += 1;
    state = together.state;
  }
  throw new Error("the rollout did not end within 200 decisions");
}

const failing =
  (rules: { node: string; step: StepCommand["step"]; outcome: StepOutcome; track?: StepCommand["track"] }[]): Outcome =>
  (command) =>
    rules.find((rule) => rule.node === command.node && rule.step === command.step && (rule.track ?? "forward") === command.track && command.attempt === 1)?.outcome ?? "ok";

describe("foldStepReports: a group of results folds exactly as the same results one by one", () => {
  it.each<[string, Record<string, string>, string, StrategyInput, Outcome, RolloutState["phase"]]>([
    ["a rolling hop, every node at once", nodes(8), "1.1.0", { batch: "100%" }, () => "ok", "succeeded"],
    ["rolling in batches of 3 over two hops", nodes(7), "1.1.1", { batch: 3 }, () => "ok", "succeeded"],
    [
      "rolled-back and timed-out upgrades retried within the failure budget",
      nodes(6),
      "1.1.0",
      { batch: "100%", maxFailures: 3 },
      failing([
        { node: "n2", step: "upgrade", outcome: "rolled-back" },
        { node: "n4", step: "drain", outcome: "timed-out" },
        { node: "n5", step: "verify", outcome: "failed" },
      ]),
      "succeeded",
    ],
    ["an upgrade the agent could not restore halts the rollout", nodes(5), "1.1.0", { batch: "100%", maxFailures: 3 }, failing([{ node: "n3", step: "upgrade", outcome: "failed" }]), "failed"],
    ["over the budget under autoRevert: the finished nodes go back", nodes(6), "1.1.0", { batch: 2, autoRevert: true }, failing([{ node: "n5", step: "upgrade", outcome: "rolled-back" }]), "reverted"],
    ["a full-stop hop whose downtime failed recovers as a whole", nodes(4, "1.1.1"), "2.0.0", { maxFailures: 0 }, failing([{ node: "n2", step: "upgrade", outcome: "rolled-back" }]), "failed"],
    ["a full-stop hop that succeeds", nodes(4, "1.1.1"), "2.0.0", {}, () => "ok", "succeeded"],
  ])("%s", (_, versions, to, strategy, outcome, phase) => {
    const { state, groups } = checkWholeRollout(rollout(versions, to, strategy), outcome);
    expect(state.phase).toBe(phase);
    expect(groups).toBeGreaterThan(2);
  });

  it("returns the state it was given when no result is in flight", () => {
    const state = deepFreeze(running(rollout(nodes(3), "1.1.0")));
    expect(foldStepReports(state, [{ kind: "step", key: "r1/n1/0/stage/1", outcome: "ok", at: T0 }])).toEqual({ state, events: [] });
    expect(foldStepReports(state, []).state).toBe(state);
  });
});
