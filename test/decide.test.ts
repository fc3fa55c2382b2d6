import { describe, expect, it } from "vitest";
import type { StrategyInput } from "../coordinator/plan/strategy.ts";
import { decideNext, type Decision } from "../coordinator/rollout/decide.ts";
import { foldDecision, foldReport, type Report } from "../coordinator/rollout/fold.ts";
import { recoverySteps, type NodeHopStatus } from "../coordinator/rollout/node-steps.ts";
import type { StepOutcome } from "../coordinator/rollout/outcomes.ts";
import { rolloutStateSchema, stepKey, type RolloutState } from "../coordinator/rollout/state.ts";
import { stepDeadlineMs, type StepCommand } from "../coordinator/rollout/step-command.ts";
import { inFlightCommands } from "../coordinator/rollout/work.ts";
import { deepFreeze, nodes, rollout, T0 } from "./helpers/rollout-fixtures.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures

/**
 * The folds' new state; their events are asserted in "folds say what to publish". Every state is
 * frozen deep before it is folded: a fold that edits the state it was given (instead of its own
 * copy-on-write copy, state-edits.ts) throws here.
 */
const applyReport = (state: RolloutState, report: Report): RolloutState => foldReport(deepFreeze(state), report).state;
const applyDecision = (state: RolloutState, decision: Decision, now: number): RolloutState => foldDecision(deepFreeze(state), decision, now).state;

// ---------------------------------------------------------------------------------------------
// A driver: the runner's loop with a simulated cluster in place of NATS and the agents.

interface SimNode {
  version: string;
  running: boolean;
  inCluster: boolean;
}

type Agent = (command: StepCommand, sim: Map<string, SimNode>) => StepOutcome | "hang";
const allOk: Agent = () => "ok";

interface Hook {
  (context: { state: RolloutState; decision: Decision; now: number; sent: StepCommand[] }): Report[] | void;
}

interface Run {
  state: RolloutState;
  now: number;
  /** Every command sent, in order (re-sends after a takeover included). */
  sent: StepCommand[];
  /** The commands of each `send` decision: what went out together. */
  groups: StepCommand[][];
  /** Commands the simulated agents actually executed (a repeated key returns the recorded outcome instead). */
  executed: StepCommand[];
  decisions: Decision[];
  outstanding: StepCommand[];
  sim: Map<string, SimNode>;
  recorded: Map<string, StepOutcome>;
  ended: "none" | "blocked" | "limit" | "stopped";
}

interface RunOptions {
  agent?: Agent;
  hook?: Hook;
  now?: number;
  /** Stop (as if the coordinator was killed) once this returns true. */
  stopWhen?: (run: Run) => boolean;
  /** Continue a run: the simulated cluster and the agents' recorded outcomes survive a coordinator crash. */
  from?: Pick<Run, "sim" | "recorded" | "sent" | "executed">;
  limit?: number;
}

function simFor(state: RolloutState): Map<string, SimNode> {
  return new Map(state.plan.nodes.map((node) => [node.node, { version: node.expectedVersion, running: true, inCluster: true }]));
}

/** What a successful step does to the simulated node. */
function effect(command: StepCommand, node: SimNode, outcome: StepOutcome): void {
  if (outcome !== "ok") {
    if (command.step === "upgrade" && outcome === "rolled-back") node.running = command.mode === "rolling";
    return;
  }
  switch (command.step) {
    case "drain":
      node.inCluster = false;
      break;
    case "stop":
      node.running = false;
      break;
    case "upgrade":
      node.version = command.to;
      node.running = command.mode === "rolling";
      break;
    case "rollback":
      node.version = command.from;
      node.running = true;
      break;
    case "start":
      node.running = true;
      break;
    case "rejoin":
      node.inCluster = true;
      break;
    default:
      break;
  }
}

/** Invariants that must hold at every moment of every run. */
function checkInvariants(state: RolloutState, sim: Map<string, SimNode>): void {
  const running = [...sim.values()].filter((node) => node.running).map((node) => node.version);
  const versions = new Set(running);
  expect(versions.size, `running versions ${[...versions].join(", ")}`).toBeLessThanOrEqual(2);
  const hop = state.plan.hops.find((planned) => [...sim.values()].some((node) => node.version === planned.from) && [...sim.values()].some((node) => node.version === planned.to));
  if (hop && hop.mode === "full-stop" && hop.alreadyOnTarget.length === 0) {
    expect(versions.size, `full-stop hop ${hop.from} -> ${hop.to} runs ${[...versions].join(" and ")}`).toBeLessThanOrEqual(1);
  }
  const maxBatch = Math.max(1, ...state.plan.hops.filter((planned) => planned.mode === "rolling").flatMap((planned) => planned.batches.map((batch) => batch.length)));
  const out = [...sim.values()].filter((node) => !node.inCluster).length;
  expect(out, "nodes out of the cluster at once").toBeLessThanOrEqual(maxBatch);
}

function drive(initial: RolloutState, options: RunOptions = {}): Run {
  const agent = options.agent ?? allOk;
  const run: Run = {
    state: initial,
    now: options.now ?? T0,
    sent: options.from?.sent ?? [],
    groups: [],
    executed: options.from?.executed ?? [],
    decisions: [],
    outstanding: [],
    sim: options.from?.sim ?? simFor(initial),
    recorded: options.from?.recorded ?? new Map(),
    ended: "limit",
  };
  const hung = new Set<string>();
  const deliver = (command: StepCommand): void => {
    let outcome = run.recorded.get(command.key);
    if (outcome === undefined) {
      const answer = agent(command, run.sim);
      run.executed.push(command);
      if (answer === "hang") {
        hung.add(command.key);
        return;
      }
      outcome = answer;
      run.recorded.set(command.key, outcome);
      effect(command, run.sim.get(command.node)!, outcome);
      checkInvariants(run.state, run.sim);
    }
    run.state = applyReport(run.state, { kind: "step", key: command.key, outcome, at: run.now, ...(outcome === "ok" ? {} : { error: { code: "HOOK_FAILED", message: `${command.step} broke` } }) });
  };
  for (let iteration = 0; iteration < (options.limit ?? 5000); iteration += 1) {
    if (options.stopWhen?.(run)) {
      run.ended = "stopped";
      return run;
    }
    const decision = decideNext(run.state, run.now);
    run.decisions.push(decision);
    const reports = options.hook?.({ state: run.state, decision, now: run.now, sent: run.sent }) ?? [];
    if (reports.length > 0) {
      for (const report of reports) run.state = applyReport(run.state, report);
      continue;
    }
    if (decision.kind === "none") {
      run.ended = "none";
      return run;
    }
    run.state = rolloutStateSchema.parse(applyDecision(run.state, decision, run.now));
    if (decision.kind === "preflight") {
      run.state = applyReport(run.state, { kind: "preflight", ok: true, messages: [], at: run.now });
    } else if (decision.kind === "send") {
      run.sent.push(...decision.commands);
      run.groups.push(decision.commands);
      run.outstanding.push(...decision.commands);
    } else if (decision.kind === "expire") {
      for (const command of decision.commands) run.outstanding = run.outstanding.filter((item) => item.key !== command.key);
    } else if (decision.kind === "wait") {
      // A coordinator that took over re-sends, with the same key, what the state says is in flight.
      for (const command of decision.inFlight) {
        if (!run.outstanding.some((item) => item.key === command.key) && !hung.has(command.key)) {
          run.sent.push(command);
          run.outstanding.push(command);
        }
      }
      const next = run.outstanding.find((item) => !hung.has(item.key));
      if (next) {
        run.outstanding = run.outstanding.filter((item) => item !== next);
        run.now += 1000;
        deliver(next);
      } else if (decision.wakeAt !== undefined && decision.for === "in-flight") {
        run.now = Math.max(run.now + 1, decision.wakeAt);
      } else {
        run.ended = "blocked";
        return run;
      }
    }
  }
  return run;
}

const label = (command: StepCommand) => `${command.node} ${command.track === "forward" ? "" : `${command.track} `}${command.step}`;
const labels = (commands: StepCommand[], hop?: number) => commands.filter((command) => hop === undefined || command.hop === hop).map(label);
/** What went out together, one string per send decision. */
const grouped = (run: Run, hop?: number) => run.groups.map((group) => labels(group, hop).join(", ")).filter(Boolean);
const statuses = (state: RolloutState, hop: number) => Object.fromEntries(Object.entries(state.hops[hop]!.nodes).map(([node, entry]) => [node, entry.status])) as Record<string, NodeHopStatus>;
const phases = (state: RolloutState) => state.history.filter((entry) => entry.event === "phase").map((entry) => entry.to);
const failOn = (node: string, step: StepCommand["step"], outcome: StepOutcome, times = 1, track = "forward"): Agent => {
  let left = times;
  return (command) => {
    if (command.node === node && command.step === step && command.track === track && left > 0) {
      left -= 1;
      return outcome;
    }
    return "ok";
  };
};

// ---------------------------------------------------------------------------------------------
// Single decisions

describe("decideNext: single decisions", () => {
  const running = (state: RolloutState) =>
    applyDecision(applyReport(applyDecision(state, { kind: "preflight" }, T0), { kind: "preflight", ok: true, messages: [], at: T0 }), { kind: "set-phase", phase: "running", reason: "test" }, T0);

  it.each<[string, (state: RolloutState) => RolloutState, Partial<Decision> & { kind: Decision["kind"] }]>([
    ["a new rollout runs the preflight", (state) => state, { kind: "preflight" }],
    ["a rollout in preflight without a result runs it (again, after a takeover)", (state) => applyDecision(state, { kind: "preflight" }, T0), { kind: "preflight" }],
    ["a passed preflight starts running", (state) => applyReport(applyDecision(state, { kind: "preflight" }, T0), { kind: "preflight", ok: true, messages: [], at: T0 }), { kind: "set-phase", phase: "running" }],
    [
      "a failed preflight fails the rollout with its messages",
      (state) => applyReport(applyDecision(state, { kind: "preflight" }, T0), { kind: "preflight", ok: false, messages: ["node n2: version 1.0.5 is not one the plan expects (1.0.0)"], at: T0 }),
      { kind: "finish", phase: "failed", reason: "preflight failed:\n  node n2: version 1.0.5 is not one the plan expects (1.0.0)" },
    ],
    ["abort before the start", (state) => applyReport(state, { kind: "control", control: "abort", by: "bob", at: T0 }), { kind: "finish", phase: "aborted" }],
    ["a terminal rollout does nothing", (state) => applyDecision(state, { kind: "finish", phase: "aborted", reason: "x" }, T0), { kind: "none" }],
  ])("%s", (_, prepare, expected) => {
    expect(decideNext(prepare(rollout(nodes(3), "1.1.0")), T0)).toMatchObject(expected);
  });

  it("stages the whole first batch at once, before anything goes down", () => {
    const decision = decideNext(running(rollout(nodes(4), "1.1.0", { batch: 2 })), T0);
    expect(decision.kind).toBe("send");
    expect(labels((decision as Extract<Decision, { kind: "send" }>).commands)).toEqual(["n1 stage", "n2 stage"]);
  });

  it("keys every step rollout/node/hop/step/attempt", () => {
    const decision = decideNext(running(rollout(nodes(2), "1.1.0")), T0) as Extract<Decision, { kind: "send" }>;
    expect(decision.commands[0]!.key).toBe("r1/n1/0/stage/1");
    expect(stepKey({ rollout: "r1", node: "n/1", hop: 2, step: "rejoin", track: "recover", attempt: 3 })).toBe("r1/n%2F1/2/recover-rejoin/3");
  });

  it("waits for in-flight work and lists it with its recorded key and deadline", () => {
    let state = running(rollout(nodes(2), "1.1.0"));
    state = applyDecision(state, decideNext(state, T0), T0);
    const decision = decideNext(state, T0 + 5000);
    expect(decision).toEqual({ kind: "wait", for: "in-flight", inFlight: [expect.objectContaining({ key: "r1/n1/0/stage/1", deadlineAt: T0 + 600_000 })], wakeAt: T0 + 600_000 });
  });

  it("expires a step past its deadline and folds it as timed out", () => {
    let state = running(rollout(nodes(2), "1.1.0"));
    state = applyDecision(state, decideNext(state, T0), T0);
    const decision = decideNext(state, T0 + 600_000);
    expect(decision).toMatchObject({ kind: "expire", commands: [{ key: "r1/n1/0/stage/1" }] });
    state = applyDecision(state, decision, T0 + 600_000);
    expect(state.hops[0]!.nodes.n1!.lastError).toMatchObject({ step: "stage", code: "TIMEOUT" });
    expect(state.failure).toMatchObject({ code: "TIMEOUT", node: "n1" });
  });

  it("fails the rollout when no node finished within the progress deadline", () => {
    const state = running(rollout(nodes(2), "1.1.0"));
    expect(decideNext(state, T0 + 600_001)).toMatchObject({ kind: "fail", code: "TIMEOUT", message: expect.stringContaining("progress deadline (10m)") });
  });

  it("ignores a reply whose key is not in flight (a repeat, or one already timed out)", () => {
    const state = running(rollout(nodes(2), "1.1.0"));
    expect(applyReport(state, { kind: "step", key: "r1/n1/0/stage/1", outcome: "ok", at: T0 })).toBe(state);
  });

  it("refuses to mark a command the state does not expect", () => {
    const state = running(rollout(nodes(2), "1.1.0"));
    const decision = decideNext(state, T0) as Extract<Decision, { kind: "send" }>;
    const wrong = { ...decision, commands: [{ ...decision.commands[0]!, step: "upgrade" as const }] };
    expect(() => applyDecision(state, wrong, T0)).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    const twice = applyDecision(state, decision, T0);
    expect(() => applyDecision(twice, decision, T0)).toThrow(expect.objectContaining({ code: "INTERNAL" }));
  });

  it.each<["rolling" | "full-stop", NodeHopStatus, boolean, string[]]>([
    ["rolling", "staged", false, []],
    ["rolling", "drained", false, ["rejoin", "verify"]],
    ["rolling", "upgraded", false, ["rollback", "rejoin", "verify"]],
    ["rolling", "rejoined", false, ["rollback", "rejoin", "verify"]],
    ["full-stop", "staged", false, []],
    ["full-stop", "stopped", false, ["start", "verify"]],
    ["full-stop", "upgraded", false, ["rollback", "verify"]],
    ["full-stop", "started", false, ["stop", "rollback", "verify"]],
    ["full-stop", "done", false, ["stop", "rollback", "verify"]],
    ["full-stop", "stopped", true, ["start", "verify"]],
    ["full-stop", "started", true, []],
  ])("recoverySteps(%s, %s, onTarget %s) = %j", (mode, status, onTarget, expected) => {
    expect(recoverySteps(mode, status, onTarget)).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Whole rollouts

describe("decideNext + foldDecision + foldReport: whole rollouts", () => {
  it("happy path: every hop, every batch, in order, each node upgraded once per hop", () => {
    const run = drive(rollout(nodes(4), "2.0.0", { batch: [1, "50%"] }));
    expect(run.ended).toBe("none");
    expect(run.state.phase).toBe("succeeded");
    expect(phases(run.state)).toEqual(["preflight", "running", "succeeded"]);
    // Rolling: the batch stages together; nobody drains before the whole batch is staged; each node's pipeline runs on its own.
    expect(grouped(run, 0)).toEqual([
      "n1 stage",
      "n1 drain",
      "n1 upgrade",
      "n1 rejoin",
      "n1 verify",
      "n2 stage, n3 stage",
      "n2 drain, n3 drain",
      "n2 upgrade",
      "n3 upgrade",
      "n2 rejoin",
      "n3 rejoin",
      "n2 verify",
      "n3 verify",
      "n4 stage",
      "n4 drain",
      "n4 upgrade",
      "n4 rejoin",
      "n4 verify",
    ]);
    // Full-stop: every node finishes a step before any node starts the next; the leader upgrades alone.
    expect(grouped(run, 2)).toEqual([
      "n1 stage, n2 stage, n3 stage, n4 stage",
      "n1 stop, n2 stop, n3 stop, n4 stop",
      "n1 upgrade",
      "n2 upgrade, n3 upgrade, n4 upgrade",
      "n1 start, n2 start, n3 start, n4 start",
      "n1 verify, n2 verify, n3 verify, n4 verify",
    ]);
    const upgrades = run.executed.filter((command) => command.step === "upgrade").map((command) => `${command.node}@${command.hop}`);
    expect(upgrades).toHaveLength(12);
    expect(new Set(upgrades).size).toBe(12);
    expect(new Set(run.sent.map((command) => command.key)).size).toBe(run.sent.length);
    expect([...run.sim.values()].every((node) => node.version === "2.0.0" && node.running && node.inCluster)).toBe(true);
    expect(run.sent.find((command) => command.hop === 2 && command.step === "upgrade")).toMatchObject({ node: "n1", leader: true, mode: "full-stop" });
  });

  it("canaries pause for promote, then the rest follows", () => {
    const paused = drive(rollout(nodes(4), "1.1.0", { canary: 1, canaryMode: "pause", batch: 2 }));
    expect(paused.ended).toBe("blocked");
    expect(paused.state.phase).toBe("waiting-promote");
    expect(statuses(paused.state, 0)).toEqual({ n1: "done", n2: "pending", n3: "pending", n4: "pending" });
    expect(paused.decisions.at(-1)).toMatchObject({ kind: "wait", for: "promote" });

    const before = paused.sent.length;
    const promoted = drive(applyReport(paused.state, { kind: "control", control: "promote", by: "carol", at: paused.now }), { now: paused.now, from: paused });
    expect(promoted.state.phase).toBe("succeeded");
    expect(promoted.state.hops[0]!.promoted).toEqual({ by: "carol", at: paused.now });
    expect(phases(promoted.state)).toEqual(["preflight", "running", "waiting-promote", "running", "succeeded"]);
    expect(labels(promoted.sent.slice(before))).toEqual([
      "n2 stage",
      "n3 stage",
      "n2 drain",
      "n3 drain",
      "n2 upgrade",
      "n3 upgrade",
      "n2 rejoin",
      "n3 rejoin",
      "n2 verify",
      "n3 verify",
      "n4 stage",
      "n4 drain",
      "n4 upgrade",
      "n4 rejoin",
      "n4 verify",
    ]);
  });

  it("canaries auto-promote once healthy", () => {
    const run = drive(rollout(nodes(3), "1.1.0", { canary: 1, canaryMode: "auto" }));
    expect(run.state.phase).toBe("succeeded");
    expect(phases(run.state)).not.toContain("waiting-promote");
  });

  it("a promote given early (before the canaries finish) does not stop at the canaries", () => {
    const run = drive(rollout(nodes(3), "1.1.0", { canary: 1 }), {
      hook: ({ state }) => (state.phase === "running" && !state.hops[0]!.promoted ? [{ kind: "control", control: "promote", by: "dan", at: T0 }] : undefined),
    });
    expect(run.state.phase).toBe("succeeded");
    expect(phases(run.state)).not.toContain("waiting-promote");
  });

  it.each<[string, StepCommand["step"], StepOutcome, NodeHopStatus, string[]]>([
    ["upgrade rolled back by the agent: rejoin and verify", "upgrade", "rolled-back", "rolled-back", ["n2 recover rejoin", "n2 recover verify"]],
    ["verify failed after the upgrade: roll back, rejoin, verify", "verify", "failed", "rolled-back", ["n2 recover rollback", "n2 recover rejoin", "n2 recover verify"]],
    ["drain failed: rejoin and verify", "drain", "failed", "rolled-back", ["n2 recover rejoin", "n2 recover verify"]],
    ["upgrade failed and could not be restored: the node needs an operator", "upgrade", "failed", "failed", []],
  ])("maxFailures 0, no autoRevert: %s, then the rollout halts", (_, step, outcome, n2Status, recovery) => {
    const run = drive(rollout(nodes(4), "1.1.0"), { agent: failOn("n2", step, outcome) });
    expect(run.state.phase).toBe("failed");
    expect(statuses(run.state, 0)).toEqual({ n1: "done", n2: n2Status, n3: "pending", n4: "pending" });
    expect(labels(run.sent.filter((command) => command.track === "recover"))).toEqual(recovery);
    expect(run.sent.some((command) => command.node === "n3" || command.node === "n4")).toBe(false);
    expect(run.state.failure).toMatchObject({ node: "n2", hop: 0 });
    expect(run.state.failures).toBe(1);
  });

  it("autoRevert: the hop's upgraded nodes go back batch by batch, last batch first, never all at once", () => {
    const run = drive(rollout(nodes(5), "1.1.0", { batch: 2, autoRevert: true }), { agent: failOn("n5", "verify", "failed") });
    expect(run.state.phase).toBe("reverted");
    expect(phases(run.state)).toEqual(["preflight", "running", "reverting", "reverted"]);
    expect(statuses(run.state, 0)).toEqual({ n1: "reverted", n2: "reverted", n3: "reverted", n4: "reverted", n5: "rolled-back" });
    expect(grouped(run).filter((group) => group.includes("revert"))).toEqual([
      "n3 revert drain, n4 revert drain",
      "n3 revert rollback",
      "n4 revert rollback",
      "n3 revert rejoin",
      "n4 revert rejoin",
      "n3 revert verify",
      "n4 revert verify",
      "n1 revert drain, n2 revert drain",
      "n1 revert rollback",
      "n2 revert rollback",
      "n1 revert rejoin",
      "n2 revert rejoin",
      "n1 revert verify",
      "n2 revert verify",
    ]);
    expect([...run.sim.values()].every((node) => node.version === "1.0.0" && node.running && node.inCluster)).toBe(true);
    expect(run.state.history.filter((entry) => entry.event === "reverted").map((entry) => entry.node)).toEqual(["n3", "n4", "n1", "n2"]);
  });

  it("autoRevert reverts only the failing hop: finished hops stay", () => {
    const run = drive(rollout(nodes(3), "1.1.1", { autoRevert: true }), {
      agent: (command) => (command.hop === 1 && command.node === "n3" && command.step === "upgrade" ? "rolled-back" : "ok"),
    });
    expect(run.state.phase).toBe("reverted");
    expect(statuses(run.state, 0)).toEqual({ n1: "done", n2: "done", n3: "done" });
    expect(statuses(run.state, 1)).toEqual({ n1: "reverted", n2: "reverted", n3: "rolled-back" });
    expect([...run.sim.values()].map((node) => node.version)).toEqual(["1.1.0", "1.1.0", "1.1.0"]);
  });

  it("a revert step that fails stops the revert and fails the rollout", () => {
    const run = drive(rollout(nodes(3), "1.1.0", { autoRevert: true }), {
      agent: (command) => ((command.node === "n3" && command.step === "verify" && command.track === "forward") || (command.node === "n2" && command.track === "revert" && command.step === "rollback") ? "failed" : "ok"),
    });
    expect(run.state.phase).toBe("failed");
    expect(statuses(run.state, 0)).toEqual({ n1: "done", n2: "failed", n3: "rolled-back" });
    expect(run.sent.some((command) => command.node === "n1" && command.track === "revert")).toBe(false);
  });

  it("maxFailures 1: the failed node is retried once with a new attempt and new keys", () => {
    const run = drive(rollout(nodes(3), "1.1.0", { maxFailures: 1 }), { agent: failOn("n2", "upgrade", "rolled-back") });
    expect(run.state.phase).toBe("succeeded");
    const n2Upgrades = run.sent.filter((command) => command.node === "n2" && command.step === "upgrade").map((command) => command.key);
    expect(n2Upgrades).toEqual(["r1/n2/0/upgrade/1", "r1/n2/0/upgrade/2"]);
    expect(run.state.hops[0]!.nodes.n2).toMatchObject({ status: "done", attempt: 2, failures: 1 });
    expect(run.state.failures).toBe(1);
  });

  it("maxFailures 1: a second failure halts", () => {
    const run = drive(rollout(nodes(3), "1.1.0", { maxFailures: 1 }), { agent: failOn("n2", "upgrade", "rolled-back", 2) });
    expect(run.state.phase).toBe("failed");
    expect(run.state.failure!.message).toContain("2 failures, maxFailures is 1");
    expect(statuses(run.state, 0)).toEqual({ n1: "done", n2: "rolled-back", n3: "pending" });
  });

  it.each<[string, (command: StepCommand) => boolean, Record<string, NodeHopStatus>]>([
    ["right after the first stage is sent", (command) => command.step === "stage", { n1: "staged", n2: "pending", n3: "pending" }],
    ["while n1 is drained", (command) => command.step === "drain", { n1: "done", n2: "pending", n3: "pending" }],
    ["while n1 upgrades", (command) => command.step === "upgrade", { n1: "done", n2: "pending", n3: "pending" }],
  ])("pause %s: the work in progress finishes, nothing new starts; resume goes on", (_, when, atPause) => {
    let asked = false;
    const paused = drive(rollout(nodes(3), "1.1.0"), {
      hook: ({ sent }) => {
        if (!asked && sent.some(when)) {
          asked = true;
          return [{ kind: "control", control: "pause", by: "erin", at: T0 }];
        }
      },
    });
    expect(paused.ended).toBe("blocked");
    expect(paused.state.phase).toBe("paused");
    expect(paused.decisions.at(-1)).toMatchObject({ kind: "wait", for: "resume" });
    expect(statuses(paused.state, 0)).toEqual(atPause);
    expect([...paused.sim.values()].every((node) => node.running && node.inCluster)).toBe(true);

    const resumed = drive(applyReport(paused.state, { kind: "control", control: "resume", by: "erin", at: paused.now }), { now: paused.now, from: paused });
    expect(resumed.state.phase).toBe("succeeded");
    expect(phases(resumed.state)).toEqual(["preflight", "running", "paused", "running", "succeeded"]);
  });

  it("abort while a batch is in progress: the in-flight work finishes, then aborted; later batches never start", () => {
    let asked = false;
    const run = drive(rollout(nodes(4), "1.1.0", { batch: 2 }), {
      hook: ({ sent }) => {
        if (!asked && sent.some((command) => command.node === "n2" && command.step === "upgrade")) {
          asked = true;
          return [{ kind: "control", control: "abort", by: "frank", at: T0 }];
        }
      },
    });
    expect(run.state.phase).toBe("aborted");
    expect(statuses(run.state, 0)).toEqual({ n1: "done", n2: "done", n3: "pending", n4: "pending" });
    expect(run.sent.some((command) => command.node === "n3")).toBe(false);
    expect(run.state.controls.abort).toEqual({ by: "frank", at: T0 });
  });

  it("abort while waiting for promote ends at once", () => {
    const paused = drive(rollout(nodes(3), "1.1.0", { canary: 1 }));
    const before = paused.sent.length;
    const run = drive(applyReport(paused.state, { kind: "control", control: "abort", by: "gina", at: paused.now }), { now: paused.now, from: paused });
    expect(run.state.phase).toBe("aborted");
    expect(run.sent).toHaveLength(before);
  });

  it("a node that stops answering: the progress deadline fails the rollout, its step expires, the node needs an operator", () => {
    const run = drive(rollout(nodes(3), "1.1.0"), { agent: (command) => (command.node === "n2" && ["drain", "rejoin"].includes(command.step) ? "hang" : "ok") });
    expect(run.state.phase).toBe("failed");
    expect(run.state.failure).toMatchObject({ code: "TIMEOUT", message: expect.stringContaining("no node finished its hop within the progress deadline") });
    expect(statuses(run.state, 0)).toEqual({ n1: "done", n2: "failed", n3: "pending" });
    expect(run.state.hops[0]!.nodes.n2!.lastError).toMatchObject({ step: "rejoin", code: "TIMEOUT" });
    expect(labels(run.sent.filter((command) => command.node === "n2"))).toEqual(["n2 stage", "n2 drain", "n2 recover rejoin"]);
  });

  it.each([
    [60_000, 66_000],
    [20_000, 25_000],
    [300_000, 330_000],
  ])("the verify step of a gate with healthyDeadlineMs %i expires only at %i: the gate's own verdict comes first", (healthyDeadlineMs, expected) => {
    expect(stepDeadlineMs({ strategy: { ...rollout(nodes(1), "1.1.0").strategy, healthyDeadlineMs } }, "verify")).toBe(expected);
    expect(stepDeadlineMs({ strategy: { ...rollout(nodes(1), "1.1.0").strategy, healthyDeadlineMs } }, "drain")).toBe(rollout(nodes(1), "1.1.0").strategy.progressDeadlineMs);
  });

  it("a verify that never answers times out after healthyDeadlineMs (plus the gate's margin) and the node is rolled back", () => {
    const run = drive(rollout(nodes(3), "1.1.0", { maxFailures: 1 }), { agent: (command) => (command.node === "n1" && command.step === "verify" && command.attempt === 1 && command.track === "forward" ? "hang" : "ok") });
    expect(run.state.phase).toBe("succeeded");
    const n1 = run.state.hops[0]!.nodes.n1!;
    expect(n1).toMatchObject({ status: "done", attempt: 2, failures: 1, lastError: { step: "verify", code: "TIMEOUT" } });
    expect(labels(run.sent.filter((command) => command.node === "n1" && command.track === "recover"))).toEqual(["n1 recover rollback", "n1 recover rejoin", "n1 recover verify"]);
  });

  it("a node already done for a hop is never scheduled again, and nodes already on N+1 skip the hop", () => {
    const run = drive(rollout({ n1: "1.0.0", n2: "1.1.0", n3: "1.0.0" }, "1.1.1"));
    expect(run.state.phase).toBe("succeeded");
    expect(statuses(run.state, 0)).toEqual({ n1: "done", n2: "skipped", n3: "done" });
    expect(run.sent.some((command) => command.hop === 0 && command.node === "n2")).toBe(false);
    const perNodeHop = run.sent.filter((command) => command.step === "upgrade").map((command) => `${command.node}@${command.hop}`);
    expect(perNodeHop).toEqual(["n1@0", "n3@0", "n1@1", "n2@1", "n3@1"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Coordinator crash and takeover

describe("takeover: a new coordinator resumes from the stored state", () => {
  it.each<[string, (run: Run) => boolean]>([
    ["with an upgrade in flight", (run) => run.sent.some((command) => command.node === "n2" && command.step === "upgrade")],
    ["with a whole batch staging", (run) => run.sent.filter((command) => command.step === "stage").length >= 3],
    ["in the middle of a full-stop hop", (run) => run.sent.some((command) => command.hop === 2 && command.step === "upgrade" && command.node === "n3")],
    ["in the middle of a revert", (run) => run.sent.some((command) => command.track === "revert" && command.step === "rollback")],
  ])("%s: the same keys are re-sent, never a new attempt; no node is upgraded twice", (name, killWhen) => {
    const autoRevert = name.includes("revert");
    const initial = rollout(nodes(4), "2.0.0", { batch: [1, 2], autoRevert });
    const agent: Agent = autoRevert ? failOn("n4", "verify", "failed") : allOk;
    const first = drive(initial, { stopWhen: killWhen, agent });
    expect(first.ended).toBe("stopped");
    const inFlightBefore = inFlightCommands(first.state).map((command) => command.key);
    expect(inFlightBefore.length).toBeGreaterThan(0);

    // The KV record is all the next coordinator has: a JSON round trip through the schema.
    const stored = rolloutStateSchema.parse(JSON.parse(JSON.stringify(first.state)));
    const takeover = decideNext(stored, first.now);
    expect(takeover.kind).toBe("wait");
    expect((takeover as Extract<Decision, { kind: "wait" }>).inFlight.map((command) => command.key)).toEqual(inFlightBefore);

    const second = drive(stored, { now: first.now, agent, from: { sim: first.sim, recorded: first.recorded, sent: [], executed: first.executed } });
    expect(second.state.phase).toBe(autoRevert ? "reverted" : "succeeded");
    const resent = second.sent.slice(0, inFlightBefore.length).map((command) => command.key);
    expect(resent).toEqual(inFlightBefore);
    const executedUpgrades = second.executed.filter((command) => command.step === "upgrade" && command.track === "forward");
    expect(new Set(executedUpgrades.map((command) => `${command.node}@${command.hop}`)).size).toBe(executedUpgrades.length);
    expect(second.sent.every((command) => command.attempt === 1)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Full-stop hops

describe("full-stop hops", () => {
  const atFullStop = (count: number, strategy: StrategyInput = {}) => rollout(nodes(count, "1.1.1"), "2.0.0", strategy);

  it("stop all -> upgrade the leader alone -> the rest -> start all -> verify all", () => {
    const run = drive(atFullStop(3));
    expect(run.state.phase).toBe("succeeded");
    expect(grouped(run)).toEqual(["n1 stage, n2 stage, n3 stage", "n1 stop, n2 stop, n3 stop", "n1 upgrade", "n2 upgrade, n3 upgrade", "n1 start, n2 start, n3 start", "n1 verify, n2 verify, n3 verify"]);
  });

  it("a single node: stage, stop, upgrade, start, verify", () => {
    const run = drive(rollout({ n1: "1.0.0" }, "1.1.0"));
    expect(run.state.plan.hops[0]!.reason).toBe("single node: there is no other node to keep serving");
    expect(labels(run.sent)).toEqual(["n1 stage", "n1 stop", "n1 upgrade", "n1 start", "n1 verify"]);
    expect(run.state.phase).toBe("succeeded");
  });

  it("a failure during the downtime brings the whole hop back to N, stops first, and never starts N beside N+1", () => {
    const run = drive(atFullStop(3), { agent: failOn("n3", "upgrade", "rolled-back") });
    expect(run.state.phase).toBe("failed");
    expect(statuses(run.state, 0)).toEqual({ n1: "rolled-back", n2: "rolled-back", n3: "rolled-back" });
    expect(grouped(run).filter((group) => group.includes("recover"))).toEqual(["n1 recover rollback, n2 recover rollback", "n3 recover start", "n1 recover verify, n2 recover verify, n3 recover verify"]);
    expect([...run.sim.values()].every((node) => node.version === "1.1.1" && node.running)).toBe(true);
  });

  it("a verify failure after every node started: stop all, roll back all, verify", () => {
    const run = drive(atFullStop(2, { autoRevert: true }), { agent: failOn("n2", "verify", "failed") });
    expect(run.state.phase).toBe("reverted");
    expect(grouped(run).filter((group) => group.includes("recover"))).toEqual(["n1 recover stop, n2 recover stop", "n1 recover rollback, n2 recover rollback", "n1 recover verify, n2 recover verify"]);
    expect([...run.sim.values()].map((node) => node.version)).toEqual(["1.1.1", "1.1.1"]);
  });

  it("within the failure budget the whole hop is tried again with new keys", () => {
    const run = drive(atFullStop(2, { maxFailures: 1 }), { agent: failOn("n1", "upgrade", "rolled-back") });
    expect(run.state.phase).toBe("succeeded");
    expect(run.sent.filter((command) => command.step === "upgrade" && command.track === "forward").map((command) => command.key)).toEqual(["r1/n1/0/upgrade/1", "r1/n1/0/upgrade/2", "r1/n2/0/upgrade/2"]);
  });

  it("a stage failure changes nothing: no downtime, no recovery of the others", () => {
    const run = drive(atFullStop(3), { agent: failOn("n2", "stage", "failed") });
    expect(run.state.phase).toBe("failed");
    expect(run.sent.some((command) => command.step === "stop" || command.track === "recover")).toBe(false);
    expect([...run.sim.values()].every((node) => node.running)).toBe(true);
  });

  it.each<[string, Record<string, string>, string, "aborted" | "succeeded", string[]]>([
    ["a later hop never starts", { n1: "1.0.0" }, "1.1.1", "aborted", ["done", "pending"]],
    ["the window was the last work: every node is on the target, so it succeeded", nodes(3, "1.1.1"), "2.0.0", "succeeded", ["done"]],
  ])("abort during the downtime window: the window completes first (the service comes back up); %s", (_, versions, to, phase, n1ByHop) => {
    let asked = false;
    const run = drive(rollout(versions, to), {
      hook: ({ sent }) => {
        if (!asked && sent.some((command) => command.step === "stop")) {
          asked = true;
          return [{ kind: "control", control: "abort", by: "hal", at: T0 }];
        }
      },
    });
    expect(run.state.phase).toBe(phase);
    expect(run.state.hops.map((hop) => hop.nodes.n1!.status)).toEqual(n1ByHop);
    expect([...run.sim.values()].every((node) => node.running)).toBe(true);
    expect(run.sent.some((command) => command.hop === 1)).toBe(false);
  });

  it("pause during the downtime window takes effect once every node is verified", () => {
    let asked = false;
    const run = drive(rollout({ n1: "1.0.0" }, "1.1.1"), {
      hook: ({ sent }) => {
        if (!asked && sent.some((command) => command.step === "upgrade")) {
          asked = true;
          return [{ kind: "control", control: "pause", by: "ida", at: T0 }];
        }
      },
    });
    expect(run.state.phase).toBe("paused");
    expect(labels(run.sent)).toEqual(["n1 stage", "n1 stop", "n1 upgrade", "n1 start", "n1 verify"]);
  });

  it("nodes already on the target are stopped and started with the others", () => {
    const state = rollout({ n1: "1.1.1", n2: "2.0.0", n3: "1.1.1" }, "2.0.0");
    expect(state.plan.hops[0]!.alreadyOnTarget).toEqual(["n2"]);
    const run = drive(state);
    expect(run.state.phase).toBe("succeeded");
    expect(labels(run.sent)).toEqual(["n1 stage", "n3 stage", "n1 stop", "n3 stop", "n2 stop", "n1 upgrade", "n3 upgrade", "n1 start", "n3 start", "n2 start", "n1 verify", "n3 verify", "n2 verify"]);
  });
});

describe("folds say what to publish", () => {
  const running = (state: RolloutState) =>
    applyDecision(applyReport(applyDecision(state, { kind: "preflight" }, T0), { kind: "preflight", ok: true, messages: [], at: T0 }), { kind: "set-phase", phase: "running", reason: "test" }, T0);

  it("a transition has one event in the phase it leads to; sending has none", () => {
    const start = rollout(nodes(2), "1.1.0");
    expect(foldDecision(start, { kind: "preflight" }, T0).events).toMatchObject([{ type: "transition", phase: "preflight", message: "preflight started" }]);
    const state = running(start);
    expect(foldDecision(state, { kind: "fail", code: "TIMEOUT", message: "too slow" }, T0).events).toMatchObject([{ type: "transition", message: "too slow" }]);
    const send = decideNext(state, T0);
    expect(send.kind).toBe("send");
    expect(foldDecision(state, send, T0).events).toEqual([]);
  });

  it("a step reply has a step event naming node, step and error; a reply not in flight has none", () => {
    const state = running(rollout(nodes(2), "1.1.0"));
    expect(foldReport(state, { kind: "step", key: "r1/n1/0/stage/1", outcome: "ok", at: T0 }).events).toEqual([]);
    const sent = applyDecision(state, decideNext(state, T0), T0);
    const error = { code: "ARTIFACT_MISMATCH", message: "sha256 differs" };
    const folded = foldReport(sent, { kind: "step", key: "r1/n1/0/stage/1", outcome: "failed", error, at: T0 });
    expect(folded.events).toMatchObject([{ type: "step", node: "n1", step: "stage", outcome: "failed", key: "r1/n1/0/stage/1", message: "n1: stage failed (ARTIFACT_MISMATCH: sha256 differs)" }]);
  });
});
