import { planUpgradePath, findRelease, type Hop, type ServiceCatalog } from "../../shared/catalog/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import { findServiceInventory, type ObservedInventory } from "../../shared/inventory/index.ts";
import { orderNodes, planBatchSchedule } from "./batches.ts";
import { formatMs } from "../../shared/format/index.ts";
import { decideHopStrategy, type HopMode } from "./hop-strategy.ts";
import type { PlannedHop } from "./planned-hop.ts";
import { runPreflight, type PreflightResult } from "./preflight.ts";
import type { Strategy } from "./strategy.ts";

/** How long an inventory stays fresh enough for the preflight when the caller does not say. */
export const DEFAULT_STALE_AFTER_MS = 60_000;

export interface BuildPlanInput {
  /** The service's entry of the catalog. */
  catalog: ServiceCatalog;
  service: string;
  cluster: string;
  to: string;
  allowDowngrade?: boolean;
  strategy: Strategy;
  /** The cluster's inventories by node name; undefined for a node known to exist that never published. */
  inventories: Readonly<Record<string, ObservedInventory | undefined>>;
  /** The cluster's nodes, when known apart from the inventories; default: every inventory of `cluster`. */
  nodes?: readonly string[];
  /** Estimated size of each node's data dirs (the snapshot); default: its latest snapshot of the service. */
  dataBytes?: Readonly<Record<string, number>>;
  now: number;
  staleAfterMs?: number;
  /** Nodes whose agent did not answer when asked just now, with why; the preflight fails them. */
  unanswered?: Readonly<Record<string, string>>;
  /** Nodes whose gRPC endpoint failed with the rollout's settings, with why; the preflight fails them (see probeAgentsGrpc). */
  grpcUnreachable?: Readonly<Record<string, string>>;
}

/** One node as the plan sees it. */
export interface PlannedNode {
  node: string;
  /** Active version reported by the node, if it reported one. */
  version?: string;
  /** The version the plan expects the node to run when the rollout starts. */
  expectedVersion: string;
  /** The first hop this node takes part in (1 when it is already on the first hop's target). */
  firstHop: number;
  /** Free bytes the node needs: every release it stages plus a snapshot per hop it takes. */
  requiredBytes: number;
}

export type { PlannedHop, PlannedMigration } from "./planned-hop.ts";

export interface Plan {
  cluster: string;
  service: string;
  target: string;
  allowDowngrade: boolean;
  createdAt: number;
  strategy: Strategy;
  nodes: PlannedNode[];
  hops: PlannedHop[];
  preflight: PreflightResult;
  /** Remarks for the operator: nothing to do, nodes on unexpected versions. */
  notes: string[];
}

function latestSnapshotBytes(observed: ObservedInventory | undefined, service: string): number {
  const entry = observed ? findServiceInventory(observed.inventory, service) : undefined;
  const latest = entry?.snapshots.reduce<(typeof entry.snapshots)[number] | undefined>((newest, snapshot) => (!newest || snapshot.createdAt > newest.createdAt ? snapshot : newest), undefined);
  return latest?.bytes ?? 0;
}

/**
 * Picks the version the path starts from. Upgrades start from the oldest version in the cluster and
 * downgrades from the newest, so that the nodes already ahead (a halted earlier rollout leaves N and
 * N+1) are exactly the ones on the first hop's target and simply skip it.
 */
function pathStart(catalog: ServiceCatalog, versions: readonly string[], to: string): string {
  const position = new Map(catalog.releases.map((release, index) => [release.version, index]));
  const sorted = [...versions].sort((a, b) => position.get(a)! - position.get(b)!);
  const oldest = sorted[0]!;
  const newest = sorted[sorted.length - 1]!;
  const target = position.get(to)!;
  if (target < position.get(oldest)! || (target === position.get(oldest)! && newest !== oldest)) return newest;
  return oldest;
}

function describeGate(mode: HopMode, strategy: Strategy): string {
  const health = `healthy for ${formatMs(strategy.minHealthyMs)} within ${formatMs(strategy.healthyDeadlineMs)}`;
  const progress = `fails if no node finishes within ${formatMs(strategy.progressDeadlineMs)}`;
  return mode === "rolling" ? `each node ${health} after it rejoins; the next batch starts when the whole batch is healthy; ${progress}` : `every node ${health} after the start; ${progress}`;
}

/**
 * Builds the plan of `hoist plan`: the current version of every node, the hops of the catalog's
 * upgrade path (every N -> N+1 in order), for each hop rolling or full-stop with the reason, its
 * batches and gate and cluster-once migrations, and the preflight result. Pure: the caller reads the
 * inventories and the catalog.
 *
 * Nodes may run two versions (a halted rollout leaves N and N+1): the path starts from the oldest and
 * the nodes already on the first hop's target skip that hop. A node on any other version (or on none,
 * or silent) keeps the path's start as its expected version, so the preflight names it.
 *
 * Throws NOT_FOUND (no nodes, or a version missing from the catalog), DOWNGRADE_REFUSED,
 * NO_UPGRADE_PATH (from planUpgradePath), INVALID_ARGUMENT (strategy order names an unknown node),
 * WRONG_STATE (no node reports a version the catalog knows).
 */
export function buildPlan(input: BuildPlanInput): Plan {
  const { catalog, service, cluster, to, strategy, now } = input;
  const allowDowngrade = input.allowDowngrade ?? false;
  findRelease(catalog, to);
  const listed =
    input.nodes ??
    Object.entries(input.inventories)
      .filter(([, observed]) => observed?.inventory.cluster === cluster)
      .map(([node]) => node);
  if (listed.length === 0) {
    throw new HoistError("NOT_FOUND", `no node of cluster ${cluster} has published its inventory; start the agents first`, {
      details: { cluster },
    });
  }
  const ordered = orderNodes(listed, strategy.order);
  const versionOf = new Map(
    ordered.map((node) => {
      const observed = input.inventories[node];
      return [node, observed ? findServiceInventory(observed.inventory, service)?.activeVersion : undefined] as const;
    }),
  );
  const inCatalog = new Set(catalog.releases.map((release) => release.version));
  const known = [...new Set([...versionOf.values()].filter((version): version is string => version !== undefined && inCatalog.has(version)))];
  if (known.length === 0) {
    throw new HoistError("WRONG_STATE", `no node of cluster ${cluster} runs a version of ${service} that the catalog knows; add it to the catalog`, {
      details: { cluster, service },
    });
  }

  const start = pathStart(catalog, known, to);
  const hops: Hop[] = planUpgradePath(catalog, start, to, { allowDowngrade });
  const chain = [start, ...hops.map((hop) => hop.to)];
  const notes: string[] = [];

  const firstHopOf = new Map<string, number>();
  for (const node of ordered) {
    const version = versionOf.get(node);
    if (version === chain[0]) firstHopOf.set(node, 0);
    else if (hops.length > 0 && version === chain[1]) firstHopOf.set(node, 1);
    else {
      firstHopOf.set(node, 0);
      if (version === undefined) notes.push(`node ${node} reports no version of ${service}; the plan assumes ${start}`);
      else notes.push(`node ${node} runs ${version}; the plan expects ${start}${hops.length > 0 ? ` or ${chain[1]}` : ""}`);
    }
  }

  const plannedHops: PlannedHop[] = hops.map((hop, index) => {
    const nodes = ordered.filter((node) => firstHopOf.get(node)! <= index);
    const alreadyOnTarget = ordered.filter((node) => firstHopOf.get(node)! > index);
    const { mode, reason } = decideHopStrategy(hop, ordered.length);
    const schedule = mode === "rolling" ? planBatchSchedule(nodes, { ...strategy, order: "given" }) : { batches: [nodes.slice(0, 1), nodes.slice(1)].filter((batch) => batch.length > 0), canaryBatches: 0 };
    const migrations = hop.release.migrations.map((migration) => ({ ...migration, run: [...migration.run] }));
    return {
      index,
      from: hop.from,
      to: hop.to,
      downgrade: hop.downgrade,
      minor: hop.release.minor,
      mode,
      reason,
      artifact: { ...hop.release.artifact },
      migrations,
      nodes,
      alreadyOnTarget,
      batches: schedule.batches,
      canaryBatches: schedule.canaryBatches,
      ...(hop.via === undefined ? {} : { via: [...hop.via] }),
      ...(hop.release.kind === "patch" ? { kind: "patch" as const } : {}),
      ...(hop.release.notes === undefined ? {} : { notes: hop.release.notes }),
      ...(hop.release.notesUrl === undefined ? {} : { notesUrl: hop.release.notesUrl }),
      requireConfirm: hop.release.requireConfirm,
      gate: describeGate(mode, strategy),
    };
  });

  const plannedNodes: PlannedNode[] = ordered.map((node) => {
    const firstHop = firstHopOf.get(node)!;
    const taken = plannedHops.filter((hop) => hop.index >= firstHop);
    const releaseBytes = taken.reduce((sum, hop) => sum + (hop.artifact.size ?? 0), 0);
    const snapshotBytes = input.dataBytes?.[node] ?? latestSnapshotBytes(input.inventories[node], service);
    const version = versionOf.get(node);
    return {
      node,
      ...(version === undefined ? {} : { version }),
      expectedVersion: chain[firstHop]!,
      firstHop,
      requiredBytes: releaseBytes + snapshotBytes * taken.length,
    };
  });

  if (plannedHops.length === 0) notes.unshift(`nothing to do: every node runs ${to}`);

  const preflight = runPreflight({
    cluster,
    service,
    nodes: ordered,
    inventories: input.inventories,
    expectedFrom: Object.fromEntries(plannedNodes.map((node) => [node.node, node.expectedVersion])),
    requiredBytes: Object.fromEntries(plannedNodes.map((node) => [node.node, node.requiredBytes])),
    now,
    staleAfterMs: input.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
    ...(input.unanswered ? { unanswered: input.unanswered } : {}),
    ...(input.grpcUnreachable ? { grpcUnreachable: input.grpcUnreachable } : {}),
  });

  return { cluster, service, target: to, allowDowngrade, createdAt: now, strategy, nodes: plannedNodes, hops: plannedHops, preflight, notes };
}
