import { HoistError } from "../../shared/errors/index.ts";
import { createLogger } from "../../shared/logger/index.ts";
import { formatPlan } from "../plan/format-plan.ts";
import { checkConfirmations } from "../plan/confirmations.ts";
import { isTerminal, type RolloutState } from "../rollout/state.ts";
import { startRollout } from "../rollout/start-rollout.ts";
import { RolloutStore } from "../rollout/store.ts";
import { formatRolloutStatus } from "../rollout/format-status.ts";
import { findRollout, requestControl } from "../rollout/controls.ts";
import { coordinatorIdentity, makeRunner } from "../rollout/make-runner.ts";
import { ClusterLease } from "../rollout/lease.ts";
import type { ControlName } from "../rollout/fold.ts";
import { formatBusWait, retryBus } from "../../shared/bus/index.ts";
import { openBus, type Bus } from "../bus/open-bus.ts";
import { planFromBus, planningRetry } from "./plan-from-bus.ts";
import type { PlanFlags } from "./plan-command.ts";
import type { RolloutRef } from "./rollout-commands.ts";
import { agentGrpcFromFlags, type AgentGrpcFlags } from "./agent-grpc-flags.ts";
import { followClusterEvents } from "./follow.ts";
import { createProgressLines } from "../../shared/format/index.ts";

/** What the rollout commands print: live progress lines (see createProgressLines) and lines above them. */
const out = createProgressLines(process.stdout);
const write = (line: string) => out.print(line);

/**
 * Drives a rollout in this process, printing live progress, until it ends; exit code 0 only on success.
 * With `waitForLease`, a lease left by a coordinator that died is waited out first (up to its TTL).
 */
async function driveInForeground(bus: Bus, rollout: Pick<RolloutState, "cluster" | "id">, flags: AgentGrpcFlags & { quiet?: boolean }, options: { waitForLease?: boolean } = {}): Promise<RolloutState> {
  const logger = createLogger({ level: "warn" });
  const owner = coordinatorIdentity();
  const runner = makeRunner(bus, rollout.cluster, owner, logger, agentGrpcFromFlags(flags), {
    onBusWait: (wait) => write(`${formatBusWait(wait)} (this coordinator keeps its lease)`),
  });
  const subscription = flags.quiet ? undefined : followClusterEvents(bus.nc, rollout.cluster, out);
  const interrupt = new AbortController();
  const onSignal = () => {
    write("interrupted: this process stops driving; the rollout stays recorded and `hoist rollout drive` or `hoist coordinator` picks it up where it stopped");
    interrupt.abort(new HoistError("CANCELLED", "interrupted"));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (options.waitForLease) {
      await new ClusterLease(bus.buckets.rollouts, rollout.cluster, owner).waitUntilFree({
        signal: interrupt.signal,
        onWait: (holder) => write(`waiting for the lease of coordinator ${holder.owner} to expire (${new Date(holder.expiresAt).toISOString()}); a live coordinator keeps it`),
      });
    }
    const final = await runner.drive(rollout.cluster, rollout.id, interrupt.signal);
    subscription?.unsubscribe();
    out.done();
    write(formatRolloutStatus(final));
    if (final.phase !== "succeeded") process.exitCode = 1;
    return final;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    subscription?.unsubscribe();
    out.done();
  }
}

/** `hoist rollout start`: plan, preflight, record, then drive here (or return with --detach). */
export async function startRolloutCommand(flags: PlanFlags & AgentGrpcFlags & { detach?: boolean; quiet?: boolean; confirm?: string }): Promise<void> {
  const bus = await openBus(flags, "hoist rollout start", { reconnectForever: true });
  try {
    const plan = await retryBus("planning", () => planFromBus(bus, flags, { agentGrpc: agentGrpcFromFlags(flags) }), planningRetry(bus.retry));
    if (!flags.json && !flags.quiet) write(formatPlan(plan));
    checkConfirmations(
      plan,
      (flags.confirm ?? "")
        .split(",")
        .map((version) => version.trim())
        .filter(Boolean),
    );
    const started = await startRollout(bus, plan);
    if (started.kind === "nothing-to-do") {
      write(`nothing to do: every node of ${flags.cluster} already runs ${flags.to}`);
      return;
    }
    const { state } = started;
    if (flags.json && flags.detach) return void write(JSON.stringify({ id: state.id, cluster: state.cluster }));
    write(`rollout ${state.id} recorded`);
    if (flags.detach) return;
    const final = await driveInForeground(bus, state, flags);
    if (flags.json) write(JSON.stringify(final, null, 2));
  } finally {
    await bus.close();
  }
}

/** `hoist rollout drive`: drive a recorded rollout here, once the previous coordinator's lease is free. */
export async function driveRolloutCommand(flags: RolloutRef & AgentGrpcFlags & { quiet?: boolean }): Promise<void> {
  const bus = await openBus(flags, "hoist rollout drive", { reconnectForever: true });
  try {
    const store = new RolloutStore(bus.buckets.rollouts);
    const state = await retryBus("finding the rollout", () => findRollout(store, flags.cluster, flags.id), bus.retry);
    await driveInForeground(bus, state, flags, { waitForLease: true });
  } finally {
    await bus.close();
  }
}

/** `hoist rollout status [--follow] [--json]`. */
export async function rolloutStatusCommand(flags: RolloutRef & { follow?: boolean; json?: boolean }): Promise<void> {
  const bus = await openBus(flags, "hoist rollout status");
  try {
    const store = new RolloutStore(bus.buckets.rollouts);
    const find = (id: string | undefined) => retryBus(id === undefined ? `finding the newest rollout of ${flags.cluster}` : `reading rollout ${id}`, () => findRollout(store, flags.cluster, id), bus.retry);
    let state = await find(flags.id);
    write(flags.json ? JSON.stringify(state, null, 2) : formatRolloutStatus(state));
    if (!flags.follow || isTerminal(state.phase)) return;
    const subscription = followClusterEvents(bus.nc, flags.cluster, out);
    while (!isTerminal(state.phase)) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      state = await find(state.id);
    }
    subscription.unsubscribe();
    out.done();
    write(formatRolloutStatus(state));
  } finally {
    await bus.close();
  }
}

/** `hoist rollout pause|resume|abort|promote`: records the control for the driving coordinator. */
export async function rolloutControlCommand(control: ControlName, flags: RolloutRef): Promise<void> {
  const bus = await openBus(flags, `hoist rollout ${control}`);
  try {
    const store = new RolloutStore(bus.buckets.rollouts);
    const state = await retryBus("finding the rollout", () => findRollout(store, flags.cluster, flags.id), bus.retry);
    const next = await retryBus(`recording ${control}`, () => requestControl(store, flags.cluster, state.id, control, coordinatorIdentity()), bus.retry);
    write(`${control} recorded for rollout ${next.id} (phase ${next.phase})`);
  } finally {
    await bus.close();
  }
}
