import { loadCatalog, serviceCatalog } from "../../shared/catalog/index.ts";
import { retryBus } from "../../shared/bus/index.ts";
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
    const plan = await retryBus("planning", () => planFromBus(bus, flags), bus.retry);
    process.stdout.write(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n`);
    if (!plan.preflight.ok) process.exitCode = 1;
  } finally {
    await bus.close();
  }
}
