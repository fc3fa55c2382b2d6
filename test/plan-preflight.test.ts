import { describe, expect, it } from "vitest";
import { runPreflight, type PreflightInput } from "../coordinator/plan/preflight.ts";
import type { NodeInventory, ObservedInventory, ServiceInventory } from "../shared/inventory/index.ts";

const NOW = 1_700_000_000_000;
const GiB = 1024 ** 3;

interface NodeShape {
  version?: string;
  health?: ServiceInventory["health"];
  activity?: ServiceInventory["activity"];
  free?: number[];
  ageMs?: number;
  cluster?: string;
  installed?: boolean;
}

function observed(node: string, shape: NodeShape = {}): ObservedInventory {
  const service: ServiceInventory = {
    name: "web",
    ...(shape.version === undefined && "version" in shape ? {} : { activeVersion: shape.version ?? "1.0.0" }),
    releases: [],
    snapshots: [],
    health: shape.health ?? "SERVING",
    activity: shape.activity ?? "idle",
  };
  const inventory: NodeInventory = {
    node,
    cluster: shape.cluster ?? "prod",
    agentVersion: "0.1.0",
    services: shape.installed === false ? [] : [service],
    host: {
      hostname: node,
      os: "linux",
      kernel: "6.1",
      arch: "x64",
      cpuModel: "test",
      cpuCores: 4,
      memTotalBytes: 8 * GiB,
      memFreeBytes: 4 * GiB,
      uptimeSeconds: 100,
      disks: (shape.free ?? [50 * GiB]).map((freeBytes, index) => ({ path: `/disk${index}`, freeBytes, totalBytes: 100 * GiB })),
      readAt: new Date(NOW).toISOString(),
    },
  };
  return { inventory, seenAt: NOW - (shape.ageMs ?? 1000) };
}

function input(inventories: PreflightInput["inventories"], overrides: Partial<PreflightInput> = {}): PreflightInput {
  const nodes = overrides.nodes ?? Object.keys(inventories);
  return {
    cluster: "prod",
    service: "web",
    nodes,
    inventories,
    expectedFrom: Object.fromEntries(nodes.map((node) => [node, "1.0.0"])),
    requiredBytes: 10 * GiB,
    now: NOW,
    staleAfterMs: 30_000,
    ...overrides,
  };
}

describe("runPreflight", () => {
  it("passes when every node answers, is healthy, on the expected version, with disk room", () => {
    const result = runPreflight(input({ n1: observed("n1"), n2: observed("n2") }));
    expect(result.ok).toBe(true);
    expect(result.messages).toEqual([]);
    expect(result.nodes.flatMap((node) => node.checks.map((check) => `${node.node}:${check.check}:${check.status}`))).toEqual([
      "n1:answers:pass",
      "n1:healthy:pass",
      "n1:version:pass",
      "n1:disk:pass",
      "n2:answers:pass",
      "n2:healthy:pass",
      "n2:version:pass",
      "n2:disk:pass",
    ]);
  });

  it.each<[string, ObservedInventory | undefined, string, string]>([
    ["a node that never published", undefined, "answers", "node n2: never published its inventory"],
    ["a node not seen for too long", observed("n2", { ageMs: 95_000 }), "answers", "node n2: last seen 1m35s ago (limit 30s)"],
    ["a node of another cluster", observed("n2", { cluster: "staging" }), "answers", "node n2: belongs to cluster staging, not prod"],
    ["a node not serving", observed("n2", { health: "NOT_SERVING" }), "healthy", "node n2: service web is NOT_SERVING"],
    ["a node in the middle of an upgrade", observed("n2", { activity: "upgrading" }), "healthy", "node n2: service web is busy (upgrading)"],
    ["a node without the service", observed("n2", { installed: false }), "healthy", "node n2: service web is not installed"],
    ["a node on another version", observed("n2", { version: "1.0.5" }), "version", "node n2: version 1.0.5 is not one the plan expects (1.0.0)"],
    ["a node with too little disk", observed("n2", { free: [4 * GiB] }), "disk", "node n2: 4.0 GiB free, needs 10.0 GiB for the snapshot and the release"],
    ["a node whose smallest disk is too small", observed("n2", { free: [80 * GiB, 2 * GiB] }), "disk", "node n2: 2.0 GiB free"],
    ["a node that reports no disks", observed("n2", { free: [] }), "disk", "node n2: the agent reported no disks"],
  ])("refuses %s and says which node failed which check", (_, n2, check, message) => {
    const result = runPreflight(input({ n1: observed("n1"), n2 }, { nodes: ["n1", "n2"] }));
    expect(result.ok).toBe(false);
    const failed = result.nodes.find((node) => node.node === "n2")!;
    expect(failed.ok).toBe(false);
    expect(failed.checks.find((entry) => entry.status === "fail")!.check).toBe(check);
    expect(result.messages).toHaveLength(1);
    expect(result.messages[0]).toContain(message);
    expect(result.nodes.find((node) => node.node === "n1")!.ok).toBe(true);
  });

  it("skips the other checks of a node that did not answer", () => {
    const result = runPreflight(input({ n1: undefined }, { nodes: ["n1"] }));
    expect(result.nodes[0]!.checks.map((check) => check.status)).toEqual(["fail", "skip", "skip", "skip"]);
  });

  it("lists every failure of every node", () => {
    const result = runPreflight(input({ n1: observed("n1", { version: "0.9.0", health: "UNKNOWN" }), n2: observed("n2", { free: [1] }) }));
    expect(result.messages).toEqual(["node n1: service web is UNKNOWN", expect.stringContaining("node n1: version 0.9.0 is not one the plan expects (1.0.0)"), expect.stringContaining("node n2: 1 B free")]);
  });

  it("uses each node's own expected version and disk need", () => {
    const result = runPreflight(
      input({ n1: observed("n1", { version: "1.0.0" }), n2: observed("n2", { version: "1.1.0", free: [5 * GiB] }) }, { expectedFrom: { n1: "1.0.0", n2: "1.1.0" }, requiredBytes: { n1: 20 * GiB, n2: 1 * GiB } }),
    );
    expect(result.messages).toEqual([]);
    expect(result.ok).toBe(true);
    const tight = runPreflight(input({ n1: observed("n1", { free: [15 * GiB] }) }, { expectedFrom: { n1: "1.0.0" }, requiredBytes: { n1: 20 * GiB } }));
    expect(tight.messages).toEqual([expect.stringContaining("node n1: 15.0 GiB free, needs 20.0 GiB")]);
  });

  it("refuses when a node of the cluster publishes but is not in the plan", () => {
    const result = runPreflight(input({ n1: observed("n1"), n9: observed("n9"), x1: observed("x1", { cluster: "other" }) }, { nodes: ["n1"] }));
    expect(result.ok).toBe(false);
    expect(result.unexpectedNodes).toEqual(["n9"]);
    expect(result.messages).toEqual(["node n9: is in cluster prod but not in the plan; plan again"]);
  });
});

describe("preflight: the grpc check (when the caller probed each agent's gRPC endpoint)", () => {
  const withAddress = (node: string): ObservedInventory => {
    const base = observed(node);
    return { ...base, inventory: { ...base.inventory, grpcAddress: `10.0.0.1:7443` } };
  };

  it.each<{ name: string; grpcUnreachable: Record<string, string> | undefined; inventory: ObservedInventory; status: string | undefined }>([
    { name: "not probed: no grpc check", grpcUnreachable: undefined, inventory: withAddress("n1"), status: undefined },
    { name: "probed and answered", grpcUnreachable: {}, inventory: withAddress("n1"), status: "pass" },
    { name: "probed and failed", grpcUnreachable: { n1: "TLS mismatch with gRPC at 10.0.0.1:7443 (wrong version number)" }, inventory: withAddress("n1"), status: "fail" },
    { name: "no gRPC address published", grpcUnreachable: {}, inventory: observed("n1"), status: "fail" },
  ])("$name", ({ grpcUnreachable, inventory, status }) => {
    const result = runPreflight(input({ n1: inventory }, grpcUnreachable === undefined ? {} : { grpcUnreachable }));
    const check = result.nodes[0]!.checks.find((item) => item.check === "grpc");
    expect(check?.status).toBe(status);
    expect(result.ok).toBe(status !== "fail");
    if (status === "fail") expect(result.messages[0]).toMatch(/^node n1: /);
  });
});
