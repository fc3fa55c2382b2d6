import { loadCatalog, serviceCatalog } from "../../shared/catalog/index.ts";
import { retryBus, type RetryBusOptions } from "../../shared/bus/index.ts";
import { buildPlan, type Plan } from "../plan/build-plan.ts";
import { formatPlan } from "../plan/format-plan.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import { askInventories } from "../inventory/ask-agents.ts";
import { strategyFromFlags } from "./strategy-from-flags.ts";
import { openBus, type Bus } from "../bus/open-bus.ts";
import type { PlanFlags } from "./plan-command.ts";
import type { AgentClientOptions } from "../../shared/proto/index.ts";
import { probeAgentsGrpc } from "../health/probe-agents-grpc.ts";

/**
 * How long one planning attempt may take before it counts as a TIMEOUT and starts again. Not the
 * CLI's 5 s for one NATS call: planning asks every agent at once (3 s at most) and then probes the
 * agents' gRPC endpoints 64 at a time (5 s each at most), which takes longer than 5 s for a few
 * thousand nodes on a loaded machine (the fleet bench's 3,000-node rollout never got past planning:
 * every attempt was cut off and started over). Each part has its own limit; this one only catches a hang.
 */
export const PLANNING_ATTEMPT_MS = 120_000;

/** The bus's retry options for planning: its budget and notices, with a planning attempt's own time limit. */
export function planningRetry(retry: RetryBusOptions): RetryBusOptions {
  return { ...retry, attemptTimeoutMs: PLANNING_ATTEMPT_MS };
}

/**
 * Reads the inventories the agents published, asks every agent for a fresh one (so a node whose agent
 * died seconds ago fails the preflight at once), and builds the plan on what they said. With
 * `agentGrpc` (the rollout's settings: `rollout start`), each agent's gRPC endpoint is opened with
 * them too, so a TLS mismatch fails the preflight instead of the health gate.
 */
export async function planFromBus(bus: Bus, flags: PlanFlags, options: { agentGrpc?: AgentClientOptions } = {}): Promise<Plan> {
  const catalog = serviceCatalog(await loadCatalog(flags.catalog), flags.service);
  const { inventories, unanswered } = await askInventories(bus.nc, flags.cluster, await readInventories(bus.buckets.inventory, flags.cluster));
  const grpcUnreachable = options.agentGrpc ? await probeAgentsGrpc(Object.keys(inventories), inventories, { ...options.agentGrpc, cluster: flags.cluster }) : undefined;
  return buildPlan({
    catalog,
    service: flags.service,
    cluster: flags.cluster,
    to: flags.to,
    allowDowngrade: flags.allowDowngrade ?? false,
    strategy: strategyFromFlags(flags),
    inventories,
    unanswered,
    ...(grpcUnreachable ? { grpcUnreachable } : {}),
    now: Date.now(),
  });
}

/** `hoist plan`: prints the plan; exit code 1 when its preflight fails. */
export async function runPlan(flags: PlanFlags): Promise<void> {
  const bus = await openBus(flags, "hoist plan");
  try {
    const plan = await retryBus("planning", () => planFromBus(bus, flags), planningRetry(bus.retry));
    process.stdout.write(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n`);
    if (!plan.preflight.ok) process.exitCode = 1;
  } finally {
    await bus.close();
  }
}
