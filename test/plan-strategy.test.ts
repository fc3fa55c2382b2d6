import { describe, expect, it } from "vitest";
import { planBatchSchedule, planBatches, orderNodes, resolveBatchSize } from "../coordinator/plan/batches.ts";
import { decideHopStrategy, REASON_CATALOG_DEFAULT, REASON_SINGLE_NODE } from "../coordinator/plan/hop-strategy.ts";
import { DEFAULT_STRATEGY, strategySchema, type StrategyInput } from "../coordinator/plan/strategy.ts";
import { releaseEntrySchema } from "../shared/catalog/index.ts";
import { HoistError } from "../shared/errors/index.ts";

const nodes = (count: number): string[] => Array.from({ length: count }, (_, index) => `n${index + 1}`);
const strategy = (input: StrategyInput) => strategySchema.parse(input);

describe("strategySchema", () => {
  it("fills sensible defaults: one node at a time, no canary, Nomad's deadlines, halt on the first failure", () => {
    expect(strategySchema.parse({})).toEqual({
      batch: 1,
      canary: 0,
      canaryMode: "pause",
      minHealthyMs: 10_000,
      healthyDeadlineMs: 300_000,
      progressDeadlineMs: 600_000,
      maxFailures: 0,
      autoRevert: false,
      order: "name",
    });
    expect(DEFAULT_STRATEGY.batch).toBe(1);
  });

  it.each<[string, unknown]>([
    ["a number", { batch: 3 }],
    ["a percentage", { batch: "25%" }],
    ["a fractional percentage", { batch: "12.5%" }],
    ["Ansible's serial list", { batch: [1, "25%", "100%"] }],
    ["an explicit order", { order: ["n3", "n1"] }],
    ["auto-promote canaries", { canary: 2, canaryMode: "auto" }],
    ["every knob", { batch: 2, canary: 1, canaryMode: "pause", minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 1000, maxFailures: 2, autoRevert: true, order: "given" }],
  ])("accepts %s", (_, input) => {
    expect(strategySchema.safeParse(input).success).toBe(true);
  });

  it.each<[string, unknown, string]>([
    ["a zero batch", { batch: 0 }, "batch"],
    ["a fractional batch", { batch: 1.5 }, "batch"],
    ["0%", { batch: "0%" }, "batch"],
    ["more than 100%", { batch: "150%" }, "batch"],
    ["a percentage without %", { batch: "25" }, "batch"],
    ["an empty serial list", { batch: [] }, "batch"],
    ["a negative canary", { canary: -1 }, "canary"],
    ["an unknown canary mode", { canaryMode: "manual" }, "canaryMode"],
    ["minHealthy not below healthyDeadline", { minHealthyMs: 5000, healthyDeadlineMs: 5000 }, "minHealthyMs"],
    ["healthyDeadline above progressDeadline", { healthyDeadlineMs: 20_000, progressDeadlineMs: 10_000 }, "healthyDeadlineMs"],
    ["an unknown order", { order: "random" }, "order"],
    ["a node named twice in order", { order: ["n1", "n1"] }, "order"],
    ["an unknown knob", { maxParallel: 2 }, ""],
  ])("refuses %s", (_, input, path) => {
    const result = strategySchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join("."))).toContain(path);
  });
});

describe("orderNodes", () => {
  it.each<[string, string[], StrategyInput["order"], string[]]>([
    ["name sorts naturally", ["n10", "n2", "n1"], "name", ["n1", "n2", "n10"]],
    ["given keeps the order", ["n10", "n2", "n1"], "given", ["n10", "n2", "n1"]],
    ["a list goes first, the rest by name", ["n1", "n2", "n3", "n4"], ["n3", "n1"], ["n3", "n1", "n2", "n4"]],
    ["a full list is the order", ["a", "b", "c"], ["c", "b", "a"], ["c", "b", "a"]],
  ])("%s", (_, input, order, expected) => {
    expect(orderNodes(input, strategy({ order }).order)).toEqual(expected);
  });

  it("refuses an order naming a node that is not in the cluster", () => {
    expect(() => orderNodes(["n1", "n2"], ["n1", "n9"])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringContaining("n9") }));
    expect(() => orderNodes(["n1"], ["n9"])).toThrow(HoistError);
  });
});

describe("planBatches (Ansible serial semantics)", () => {
  it.each<[string, number, BatchSizeInput, number]>([
    ["25% of 10", 10, "25%", 2],
    ["30% of 10 rounds down", 10, "30%", 3],
    ["10% of 4 is at least 1", 4, "10%", 1],
    ["100% of 7", 7, "100%", 7],
    ["a count", 7, 3, 3],
  ])("resolveBatchSize: %s", (_, total, size, expected) => {
    expect(resolveBatchSize(size, total)).toBe(expected);
  });

  it.each<[string, number, StrategyInput, string[][]]>([
    ["one at a time", 3, {}, [["n1"], ["n2"], ["n3"]]],
    ["a count, the last batch short", 5, { batch: 2 }, [["n1", "n2"], ["n3", "n4"], ["n5"]]],
    [
      "a percentage of the total",
      8,
      { batch: "25%" },
      [
        ["n1", "n2"],
        ["n3", "n4"],
        ["n5", "n6"],
        ["n7", "n8"],
      ],
    ],
    ["a list, the last size repeats", 10, { batch: [1, "25%", "50%"] }, [["n1"], ["n2", "n3"], ["n4", "n5", "n6", "n7", "n8"], ["n9", "n10"]]],
    ["a list ending in 100%", 10, { batch: [1, "25%", "100%"] }, [["n1"], ["n2", "n3"], ["n4", "n5", "n6", "n7", "n8", "n9", "n10"]]],
    ["a batch bigger than the cluster", 2, { batch: 5 }, [["n1", "n2"]]],
    ["one canary, then the list from its start", 5, { batch: [1, 2], canary: 1 }, [["n1"], ["n2"], ["n3", "n4"], ["n5"]]],
    ["canaries in batches of the first size, then the list from its start", 6, { batch: [2, 4], canary: 3 }, [["n1", "n2"], ["n3"], ["n4", "n5"], ["n6"]]],
    ["more canaries than nodes", 2, { canary: 5, batch: 10 }, [["n1", "n2"]]],
    ["the order decides who goes first", 3, { order: ["n3"], canary: 1 }, [["n3"], ["n1"], ["n2"]]],
    ["no nodes", 0, { batch: "50%" }, []],
  ])("%s", (_, count, input, expected) => {
    expect(planBatches(nodes(count), strategy(input))).toEqual(expected);
  });

  it.each<[StrategyInput, number]>([
    [{ canary: 0 }, 0],
    [{ canary: 1 }, 1],
    [{ canary: 3, batch: 2 }, 2],
  ])("counts the canary batches of %j", (input, expected) => {
    expect(planBatchSchedule(nodes(6), strategy(input)).canaryBatches).toBe(expected);
  });

  it("puts every node in exactly one batch", () => {
    for (const input of [{ batch: [1, "33%", "100%"] }, { batch: "7%", canary: 4 }, { batch: 3, canary: 2 }] as StrategyInput[]) {
      const flat = planBatches(nodes(23), strategy(input)).flat();
      expect([...flat].sort()).toEqual(nodes(23).sort());
    }
  });
});

type BatchSizeInput = number | string;

describe("decideHopStrategy", () => {
  const release = (fields: Record<string, unknown> = {}) => releaseEntrySchema.parse({ version: "2.0.0", artifact: { url: "x.tgz", sha256: "a".repeat(64) }, ...fields });

  it.each<[string, Record<string, unknown>, boolean, number, string, string]>([
    ["a rolling hop on a cluster", {}, false, 3, "rolling", "side by side"],
    ["rolling: false with the catalog's reason", { rolling: false, fullStopReason: "data format change" }, false, 3, "full-stop", "data format change"],
    ["rolling: false without a reason", { rolling: false }, false, 3, "full-stop", REASON_CATALOG_DEFAULT],
    ["a single node", {}, false, 1, "full-stop", REASON_SINGLE_NODE],
    ["a single node and a catalog full stop: the catalog's reason", { rolling: false, fullStopReason: "schema" }, false, 1, "full-stop", "schema"],
    ["a downgrade", {}, true, 3, "full-stop", "downgrade from 2.0.0 to 1.0.0"],
  ])("%s", (_, fields, downgrade, clusterNodes, mode, reason) => {
    const hop = downgrade ? { from: "2.0.0", to: "1.0.0", release: release({ version: "1.0.0", ...fields }), downgrade } : { from: "1.0.0", to: "2.0.0", release: release(fields), downgrade };
    const decided = decideHopStrategy(hop, clusterNodes);
    expect(decided.mode).toBe(mode);
    expect(decided.reason).toContain(reason);
  });
});
