import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import { buildPlan, type BuildPlanInput } from "../coordinator/plan/build-plan.ts";
import { formatPlan } from "../coordinator/plan/format-plan.ts";
import { strategySchema, type StrategyInput } from "../coordinator/plan/strategy.ts";
import { serviceCatalogSchema, type ServiceCatalog } from "../shared/catalog/index.ts";
import { nodeInventorySchema, type NodeInventory, type ObservedInventory } from "../shared/inventory/index.ts";

const NOW = 1_700_000_000_000;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const sha = "0".repeat(64);

const release = (version: string, fields: Record<string, unknown> = {}) => ({
  version,
  artifact: { url: `web-${version}.tgz`, sha256: sha, size: 100 * MiB },
  ...fields,
});

const webCatalog: ServiceCatalog = serviceCatalogSchema.parse({
  releases: [
    release("1.0.0"),
    release("1.1.0", { upgradeFrom: ["1.0.0"], migrations: [{ name: "add-index", run: ["bin/migrate"] }] }),
    release("1.1.1", { upgradeFrom: ["1.1.0"], minor: true }),
    release("2.0.0", {
      upgradeFrom: ["1.1.1"],
      rolling: false,
      fullStopReason: "2.0.0 changes the data format",
      migrations: [{ name: "convert-data", run: ["bin/convert"], scope: "cluster-once" }],
    }),
  ],
});

/** Calendar and four-part versions: only the catalog's order counts, never string order. */
const calendarCatalog: ServiceCatalog = serviceCatalogSchema.parse({
  releases: [
    release("22.12"),
    release("23.01", { upgradeFrom: ["22.12"] }),
    release("23.01.1", { upgradeFrom: ["23.01"], minor: true }),
    release("23.04", { upgradeFrom: ["23.01.1"] }),
    release("5.2.7.1", { upgradeFrom: ["23.04"] }),
  ],
});

function observed(node: string, version: string | undefined, fields: { cluster?: string; snapshotBytes?: number; ageMs?: number } = {}): ObservedInventory {
  return {
    seenAt: NOW - (fields.ageMs ?? 1000),
    inventory: {
      node,
      cluster: fields.cluster ?? "prod",
      agentVersion: "0.1.0",
      services: [
        {
          name: "web",
          ...(version === undefined ? {} : { activeVersion: version }),
          releases: [],
          snapshots:
            fields.snapshotBytes === undefined
              ? []
              : [
                  { id: "old", service: "web", createdAt: "2024-01-01T00:00:00.000Z", bytes: 1, files: 1, compression: "gzip" },
                  { id: "new", service: "web", createdAt: "2024-02-01T00:00:00.000Z", bytes: fields.snapshotBytes, files: 3, compression: "gzip" },
                ],
          health: "SERVING",
          activity: "idle",
        },
      ],
      host: {
        hostname: node,
        os: "linux",
        kernel: "6.1",
        arch: "x64",
        cpuModel: "test",
        cpuCores: 2,
        memTotalBytes: GiB,
        memFreeBytes: GiB,
        uptimeSeconds: 1,
        disks: [{ path: "/var/lib/hoist", freeBytes: 50 * GiB, totalBytes: 100 * GiB }],
        readAt: new Date(NOW).toISOString(),
      },
    },
  };
}

function cluster(versions: Record<string, string | undefined>): Record<string, ObservedInventory> {
  return Object.fromEntries(Object.entries(versions).map(([node, version]) => [node, observed(node, version)]));
}

function plan(versions: Record<string, string | undefined>, to: string, overrides: Omit<Partial<BuildPlanInput>, "strategy"> & { strategy?: StrategyInput } = {}) {
  const { strategy, ...rest } = overrides;
  return buildPlan({
    catalog: webCatalog,
    service: "web",
    cluster: "prod",
    to,
    strategy: strategySchema.parse(strategy ?? {}),
    inventories: cluster(versions),
    now: NOW,
    ...rest,
  });
}

const hopsOf = (built: ReturnType<typeof plan>) => built.hops.map((hop) => `${hop.from}->${hop.to} ${hop.mode}${hop.downgrade ? " downgrade" : ""}${hop.minor ? " minor" : ""}`);

describe("buildPlan: hops", () => {
  it.each<[string, Record<string, string>, string, boolean, string[]]>([
    ["every N -> N+1 in order", { n1: "1.0.0", n2: "1.0.0", n3: "1.0.0" }, "2.0.0", false, ["1.0.0->1.1.0 rolling", "1.1.0->1.1.1 rolling minor", "1.1.1->2.0.0 full-stop"]],
    ["a single hop", { n1: "1.1.0", n2: "1.1.0" }, "1.1.1", false, ["1.1.0->1.1.1 rolling minor"]],
    ["nothing when every node is on the target", { n1: "2.0.0", n2: "2.0.0" }, "2.0.0", false, []],
    ["from the oldest when a halted rollout left N and N+1", { n1: "1.0.0", n2: "1.1.0", n3: "1.1.0" }, "1.1.1", false, ["1.0.0->1.1.0 rolling", "1.1.0->1.1.1 rolling minor"]],
    ["a downgrade when allowed, full-stop", { n1: "1.1.0", n2: "1.1.0" }, "1.0.0", true, ["1.1.0->1.0.0 full-stop downgrade"]],
    ["a downgrade from the newest when a halted rollout left N and N+1", { n1: "1.0.0", n2: "1.1.0" }, "1.0.0", true, ["1.1.0->1.0.0 full-stop downgrade"]],
    ["single node: every hop full-stop", { n1: "1.0.0" }, "1.1.1", false, ["1.0.0->1.1.0 full-stop", "1.1.0->1.1.1 full-stop minor"]],
  ])("%s", (_, versions, to, allowDowngrade, expected) => {
    expect(hopsOf(plan(versions, to, { allowDowngrade }))).toEqual(expected);
  });

  it("follows the catalog's order for calendar and four-part versions", () => {
    const built = buildPlan({
      catalog: calendarCatalog,
      service: "web",
      cluster: "prod",
      to: "5.2.7.1",
      strategy: strategySchema.parse({}),
      inventories: cluster({ n1: "22.12", n2: "22.12" }),
      now: NOW,
    });
    expect(built.hops.map((hop) => `${hop.from}->${hop.to}`)).toEqual(["22.12->23.01", "23.01->23.01.1", "23.01.1->23.04", "23.04->5.2.7.1"]);
  });

  it.each<[string, Record<string, string>, string, boolean, string]>([
    ["a downgrade without allowDowngrade", { n1: "1.1.0" }, "1.0.0", false, "DOWNGRADE_REFUSED"],
    ["a target missing from the catalog", { n1: "1.0.0" }, "9.9.9", false, "NOT_FOUND"],
    ["no node on a catalog version", { n1: "0.1.0" }, "1.1.0", false, "WRONG_STATE"],
  ])("refuses %s", (_, versions, to, allowDowngrade, code) => {
    expect(() => plan(versions, to, { allowDowngrade })).toThrow(expect.objectContaining({ code }));
  });

  it("refuses a catalog without a path", () => {
    const catalog = serviceCatalogSchema.parse({ releases: [release("1.0.0"), release("2.0.0")] });
    expect(() => plan({ n1: "1.0.0" }, "2.0.0", { catalog })).toThrow(expect.objectContaining({ code: "NO_UPGRADE_PATH" }));
  });

  it("refuses an order naming a node outside the cluster", () => {
    expect(() => plan({ n1: "1.0.0" }, "1.1.0", { strategy: { order: ["n7"] } })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("buildPlan: nodes, batches, gates, migrations", () => {
  it("lets the nodes already on N+1 skip the first hop and nothing else", () => {
    const built = plan({ n1: "1.0.0", n2: "1.1.0", n3: "1.0.0" }, "1.1.1");
    expect(built.hops[0]!.nodes).toEqual(["n1", "n3"]);
    expect(built.hops[0]!.alreadyOnTarget).toEqual(["n2"]);
    expect(built.hops[1]!.nodes).toEqual(["n1", "n2", "n3"]);
    expect(built.hops[1]!.alreadyOnTarget).toEqual([]);
    expect(built.nodes.map((node) => [node.node, node.version, node.expectedVersion, node.firstHop])).toEqual([
      ["n1", "1.0.0", "1.0.0", 0],
      ["n2", "1.1.0", "1.1.0", 1],
      ["n3", "1.0.0", "1.0.0", 0],
    ]);
    expect(built.preflight.ok).toBe(true);
  });

  it("cuts rolling hops into the strategy's batches, canaries first, and full-stop hops into leader and rest", () => {
    const built = plan({ n1: "1.1.0", n2: "1.0.0", n3: "1.0.0", n4: "1.0.0", n5: "1.0.0" }, "2.0.0", {
      strategy: { batch: [1, "50%"], canary: 1, order: ["n3"] },
    });
    const first = built.hops[0]!;
    expect(first.batches).toEqual([["n3"], ["n2"], ["n4", "n5"]]);
    expect(first.canaryBatches).toBe(1);
    const fullStop = built.hops[2]!;
    expect(fullStop.mode).toBe("full-stop");
    expect(fullStop.reason).toBe("2.0.0 changes the data format");
    expect(fullStop.batches).toEqual([["n3"], ["n1", "n2", "n4", "n5"]]);
    expect(fullStop.canaryBatches).toBe(0);
  });

  it("names the cluster-once migrations and describes the gates", () => {
    const built = plan({ n1: "1.1.1", n2: "1.1.1" }, "2.0.0", { strategy: { minHealthyMs: 15_000, healthyDeadlineMs: 120_000, progressDeadlineMs: 900_000 } });
    expect(built.hops[0]!.migrations).toEqual([{ name: "convert-data", scope: "cluster-once", run: ["bin/convert"], timeoutMs: 300_000 }]);
    expect(built.hops[0]!.gate).toBe("every node healthy for 15s within 2m after the start; fails if no node finishes within 15m");
  });

  it("asks for disk room for every release staged and a snapshot per hop", () => {
    const inventories = { n1: observed("n1", "1.0.0", { snapshotBytes: 2 * GiB }), n2: observed("n2", "1.1.0", { snapshotBytes: GiB }) };
    const built = plan({}, "1.1.1", { inventories });
    expect(built.nodes.map((node) => node.requiredBytes)).toEqual([2 * 100 * MiB + 2 * 2 * GiB, 100 * MiB + GiB]);
    const estimated = plan({}, "1.1.1", { inventories, dataBytes: { n1: 0, n2: 5 * GiB } });
    expect(estimated.nodes.map((node) => node.requiredBytes)).toEqual([200 * MiB, 100 * MiB + 5 * GiB]);
  });

  it("keeps nodes on unexpected versions in the plan and lets the preflight name them", () => {
    const built = plan({ n1: "1.0.0", n2: "1.1.1", n3: "1.0.0" }, "2.0.0");
    expect(built.nodes.find((node) => node.node === "n2")!.expectedVersion).toBe("1.0.0");
    expect(built.notes).toContain("node n2 runs 1.1.1; the plan expects 1.0.0 or 1.1.0");
    expect(built.preflight.ok).toBe(false);
    expect(built.preflight.messages).toEqual([expect.stringContaining("node n2: version 1.1.1 is not one the plan expects (1.0.0)")]);
  });

  it("fails the preflight for a node of the cluster that never published", () => {
    const built = plan({ n1: "1.0.0", n2: "1.0.0" }, "1.1.0", { nodes: ["n1", "n2", "n3"] });
    expect(built.nodes.map((node) => node.node)).toEqual(["n1", "n2", "n3"]);
    expect(built.hops[0]!.nodes).toEqual(["n1", "n2", "n3"]);
    expect(built.preflight.messages).toEqual([expect.stringContaining("node n3: never published its inventory")]);
  });

  it("takes the nodes from the inventories of the cluster only", () => {
    const inventories = { ...cluster({ n1: "1.0.0" }), x1: observed("x1", "1.0.0", { cluster: "staging" }) };
    const built = plan({}, "1.1.0", { inventories });
    expect(built.nodes.map((node) => node.node)).toEqual(["n1"]);
    expect(built.hops[0]!.mode).toBe("full-stop");
  });

  it("says when there is nothing to do", () => {
    const built = plan({ n1: "1.1.0", n2: "1.1.0" }, "1.1.0");
    expect(built.hops).toEqual([]);
    expect(built.notes[0]).toBe("nothing to do: every node runs 1.1.0");
  });
});

describe("formatPlan", () => {
  it("prints hops, strategies with reasons, batches, gates and preflight", () => {
    const text = formatPlan(plan({ n1: "1.0.0", n2: "1.0.0", n3: "1.1.0" }, "2.0.0", { strategy: { canary: 1, batch: [1, "100%"] } }));
    expect(text).toContain("Plan: web on cluster prod to 2.0.0");
    expect(text).toContain("  n3: 1.1.0");
    expect(text).toContain("Strategy: batch [1, 100%], canary 1 (pause for promote)");
    expect(text).toContain("Hop 1/3: 1.0.0 -> 1.1.0\n  strategy: rolling (the catalog allows the old and new version side by side)");
    expect(text).toContain("  migrations: add-index (every node)");
    expect(text).toContain("  skip: n3 (already on 1.1.0)");
    expect(text).toContain("  batch 1 (canary): n1\n  -- wait for `hoist rollout promote` --\n  batch 2: n2");
    expect(text).toContain("Hop 2/3: 1.1.0 -> 1.1.1 (minor)");
    expect(text).toContain("Hop 3/3: 1.1.1 -> 2.0.0\n  strategy: full-stop (2.0.0 changes the data format)");
    expect(text).toContain("  upgrade n1 first (runs the cluster-once migrations)\n  then upgrade n2, n3");
    expect(text).toContain("  gate: each node healthy for 10s within 5m after it rejoins");
    expect(text).toContain("Preflight: ok (3 nodes answered");
  });

  it("marks online (before-stop) and permanent migrations, and prints a hop's notes, URL and confirmation", () => {
    const catalog = serviceCatalogSchema.parse({
      releases: [
        release("23.01"),
        release("23.04", {
          upgradeFrom: ["23.01"],
          notes: "Compatibility: run the SQL changes of the upgrade notes first.",
          notesUrl: "https://docs.ejabberd.im/admin/upgrade/",
          requireConfirm: true,
          migrations: [
            { name: "sql-add-column", run: ["bin/sql"], when: "before-stop", scope: "cluster-once" },
            { name: "mnesia-convert", run: ["bin/convert"], permanent: true },
          ],
        }),
      ],
    });
    const text = formatPlan(plan({ n1: "23.01" }, "23.04", { catalog }));
    expect(text).toContain(
      "  migrations: sql-add-column (cluster-once: the first node runs it, the others skip; before stop, against the running old release); mnesia-convert (every node; permanent: rollback works until `hoist finalize`)",
    );
    expect(text).toContain(
      "  notes: Compatibility: run the SQL changes of the upgrade notes first.\n  release notes: https://docs.ejabberd.im/admin/upgrade/\n  confirm: read the notes of 23.04; `rollout start` needs --confirm 23.04",
    );
  });

  it("merges the hops into one when the target ships the earlier scripts (Seafile): migrations in hop order, full stop if any hop is, confirmations and notes kept", () => {
    const catalog = serviceCatalogSchema.parse({
      releases: [
        release("1.1.0"),
        release("1.2.0", {
          upgradeFrom: ["1.1.0"],
          rolling: false,
          fullStopReason: "1.2 changes the database",
          notes: "back up first",
          requireConfirm: true,
          migrations: [{ name: "upgrade_1.1_1.2", run: ["upgrade/upgrade_1.1_1.2.sh"] }],
        }),
        release("1.3.0", { upgradeFrom: ["1.2.0"], includesEarlierMigrations: true, migrations: [{ name: "upgrade_1.2_1.3", run: ["upgrade/upgrade_1.2_1.3.sh"] }] }),
      ],
    });
    const built = plan({ n1: "1.1.0", n2: "1.1.0" }, "1.3.0", { catalog });
    expect(built.hops).toHaveLength(1);
    expect(built.hops[0]).toMatchObject({
      from: "1.1.0",
      to: "1.3.0",
      via: ["1.2.0"],
      mode: "full-stop",
      reason: "1.2 changes the database",
      requireConfirm: true,
      notes: "1.2.0: back up first",
      artifact: { url: "web-1.3.0.tgz" },
    });
    expect(built.hops[0]!.migrations.map((migration) => [migration.name, migration.run])).toEqual([
      ["1.2.0/upgrade_1.1_1.2", ["upgrade/upgrade_1.1_1.2.sh"]],
      ["upgrade_1.2_1.3", ["upgrade/upgrade_1.2_1.3.sh"]],
    ]);
    expect(built.nodes[0]!.requiredBytes).toBe(100 * MiB);
    expect(formatPlan(built)).toContain("Hop 1/1: 1.1.0 -> 1.3.0\n  via: 1.2.0 (not fetched: 1.3.0 ships their migrations, run from its package in order)");
  });

  it("prints the preflight failures node by node", () => {
    const text = formatPlan(plan({ n1: "1.0.0", n2: "1.1.1" }, "1.1.0"));
    expect(text).toContain("  n2: 1.1.1 (plan expects 1.0.0)");
    expect(text).toContain("Preflight: FAILED\n  node n2: version 1.1.1 is not one the plan expects (1.0.0)");
  });

  it("prints single-node full-stop hops with their reason", () => {
    const text = formatPlan(plan({ n1: "1.0.0" }, "1.1.0"));
    expect(text).toContain("strategy: full-stop (single node: there is no other node to keep serving)");
  });
});

describe("shared/inventory schema", () => {
  it("validates exactly the NodeInventory type of shared/types, field for field", () => {
    expectTypeOf<z.output<typeof nodeInventorySchema>>().toEqualTypeOf<NodeInventory>();
  });

  it("parses a published inventory and drops fields it does not know", () => {
    const published = { ...observed("n1", "1.0.0").inventory, futureField: true };
    const parsed = nodeInventorySchema.parse(published);
    expect(parsed).toEqual(observed("n1", "1.0.0").inventory);
    expect(parsed).not.toHaveProperty("futureField");
  });

  it.each<[string, (inventory: Record<string, any>) => void, string]>([
    ["an unknown health", (inventory) => (inventory.services[0].health = "GREEN"), "services.0.health"],
    ["a missing cluster", (inventory) => delete inventory.cluster, "cluster"],
    ["negative free bytes", (inventory) => (inventory.host.disks[0].freeBytes = -1), "host.disks.0.freeBytes"],
  ])("refuses %s", (_, spoil, path) => {
    const inventory = structuredClone(observed("n1", "1.0.0").inventory) as Record<string, any>;
    spoil(inventory);
    const result = nodeInventorySchema.safeParse(inventory);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join("."))).toContain(path);
  });
});
