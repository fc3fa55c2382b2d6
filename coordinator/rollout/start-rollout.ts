import { retryBus } from "../../shared/bus/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import type { Plan } from "../plan/build-plan.ts";
import { coordinatorIdentity } from "./make-runner.ts";
import { createRollout, isTerminal, type RolloutState } from "./state.ts";
import { RolloutStore } from "./store.ts";

/** A new rollout id: the start time (UTC, to the second) and 4 random hex digits. */
export function rolloutId(now = new Date()): string {
  return `r${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")
    .replace("T", "-")}-${Math.random().toString(16).slice(2, 6)}`;
}

export type StartedRollout = { kind: "nothing-to-do" } | { kind: "recorded"; state: RolloutState };

/**
 * The rules for starting a rollout from a plan: its preflight passed (else PREFLIGHT_FAILED with
 * every message), it has a hop to carry out (else nothing to do), and no other rollout of the cluster
 * is unfinished (else BUSY, naming it). Records the new rollout (phase `pending`) for whoever drives
 * it: this process or a `hoist coordinator` daemon. Retries NATS trouble as `bus.retry` says.
 */
export async function startRollout(bus: Bus, plan: Plan): Promise<StartedRollout> {
  if (!plan.preflight.ok) throw new HoistError("PREFLIGHT_FAILED", `preflight failed:\n  ${plan.preflight.messages.join("\n  ")}`);
  if (plan.hops.length === 0) return { kind: "nothing-to-do" };
  const store = new RolloutStore(bus.buckets.rollouts);
  const running = (await retryBus("listing rollouts", () => store.summaries(plan.cluster), bus.retry)).find((summary) => !isTerminal(summary.phase));
  if (running) throw new HoistError("BUSY", `rollout ${running.id} of cluster ${plan.cluster} is still ${running.phase}; wait for it or \`hoist rollout abort\` it`);
  const state = createRollout({ id: rolloutId(), plan, now: Date.now(), by: coordinatorIdentity() });
  await store.create(state);
  return { kind: "recorded", state };
}
