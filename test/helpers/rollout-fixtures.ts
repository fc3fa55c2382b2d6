import { buildPlan } from "../../coordinator/plan/build-plan.ts";
import { strategySchema, type StrategyInput } from "../../coordinator/plan/strategy.ts";
import { createRollout, type RolloutState } from "../../coordinator/rollout/state.ts";
import { serviceCatalogSchema } from "../../shared/catalog/index.ts";
import type { ObservedInventory } from "../../shared/inventory/index.ts";

/** Rollout states for the decider's and the store's tests: a plan built by the real planner from a small catalog. */

export const T0 = 1_700_000_000_000;
const sha = "0".repeat(64);
const release = (version: string, fields: Record<string, unknown> = {}) => ({ version, artifact: { url: `web-${version}.tgz`, sha256: sha, size: 1000 }, ...fields });

/** 1.0.0 -> 1.1.0 (rolling) -> 1.1.1 (rolling, minor) -> 2.0.0 (full-stop, cluster-once migration). */
const catalog = serviceCatalogSchema.parse({
  releases: [
    release("1.0.0"),
    release("1.1.0", { upgradeFrom: ["1.0.0"] }),
    release("1.1.1", { upgradeFrom: ["1.1.0"], minor: true }),
    release("2.0.0", { upgradeFrom: ["1.1.1"], rolling: false, fullStopReason: "data format change", migrations: [{ name: "convert", run: ["bin/convert"], scope: "cluster-once" }] }),
  ],
});

export function observed(node: string, version: string): ObservedInventory {
  return {
    seenAt: T0,
    inventory: {
      node,
      cluster: "prod",
      agentVersion: "0.1.0",
      services: [{ name: "web", activeVersion: version, releases: [], snapshots: [], health: "SERVING", activity: "idle" }],
      host: {
        hostname: node,
        os: "linux",
        kernel: "6",
        arch: "x64",
        cpuModel: "t",
        cpuCores: 1,
        memTotalBytes: 1,
        memFreeBytes: 1,
        uptimeSeconds: 1,
        disks: [{ path: "/", freeBytes: 1e12, totalBytes: 2e12 }],
        readAt: new Date(T0).toISOString(),
      },
    },
  };
}

export const FAST = { minHealthyMs: 1000, healthyDeadlineMs: 60_000, progressDeadlineMs: 600_000 } satisfies StrategyInput;

export function rollout(versions: Record<string, string>, to: string, strategy: StrategyInput = {}): RolloutState {
  const plan = buildPlan({
    catalog,
    service: "web",
    cluster: "prod",
    to,
    strategy: strategySchema.parse({ ...FAST, ...strategy }),
    inventories: Object.fromEntries(Object.entries(versions).map(([node, version]) => [node, observed(node, version)])),
    now: T0,
  });
  return createRollout({ id: "r1", plan, now: T0, by: "alice" });
}

/** Nodes n1..nCOUNT all on `version`. */
export const nodes = (count: number, version = "1.0.0") => Object.fromEntries(Array.from({ length: count }, (_, index) => [`n${index + 1}`, version]));

/** Freezes an object and everything in it, so that a write to any part throws (strict mode). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
