import { describe, expect, it } from "vitest";
import { applyNotifyDelta } from "../agent/unattended/apply-delta.ts";
import type { NodeReport, RolloutSnapshot } from "../shared/unattended/index.ts";

const report = (node: string, version: string, seenAt: number): NodeReport => ({ node, labels: {}, version, state: "done", reason: "on-target", seenAt, durationsMs: [], backoffAttempts: 0 });
const slot = (node: string, index: number, revision: number) => ({ node, wave: "main", version: "1.1.0", since: 1, heartbeatAt: 1, step: "upgrade", index, revision });

function view(): RolloutSnapshot {
  return {
    control: { value: { quarantined: {}, failures: [], holds: {}, pins: {}, releases: [] }, revision: 1 },
    nodes: [report("n1", "1.0.0", 100), report("n2", "1.0.0", 100)],
    slots: [{ ...slot("n1", 0, 7), key: "prod.kv.slot.main.0" }],
  };
}

describe("applyNotifyDelta: what a notify carries, applied to the rollout an agent read last", () => {
  it("a finished node's report replaces its older one, never a newer one", () => {
    const snapshot = view();
    expect(applyNotifyDelta(snapshot, "prod", "kv", { report: report("n1", "1.1.0", 200) })).toBe(true);
    expect(snapshot.nodes.find((entry) => entry.node === "n1")?.version).toBe("1.1.0");
    applyNotifyDelta(snapshot, "prod", "kv", { report: report("n1", "1.0.0", 150) });
    expect(snapshot.nodes.find((entry) => entry.node === "n1")?.version).toBe("1.1.0");
    expect(snapshot.nodes).toHaveLength(2);
  });

  it("a taken slot is added with its key (replacing that index), a freed one removed", () => {
    const snapshot = view();
    applyNotifyDelta(snapshot, "prod", "kv", { taken: slot("n2", 1, 9) });
    expect(snapshot.slots.map((entry) => [entry.node, entry.index, entry.key, entry.revision])).toEqual([
      ["n1", 0, "prod.kv.slot.main.0", 7],
      ["n2", 1, "prod.kv.slot.main.1", 9],
    ]);
    applyNotifyDelta(snapshot, "prod", "kv", { freed: { wave: "main", index: 0 } });
    expect(snapshot.slots.map((entry) => entry.node)).toEqual(["n2"]);
  });

  it("out of order: a taken slot never replaces a newer holder, a freed revision never removes a newer holder", () => {
    const snapshot = view();
    applyNotifyDelta(snapshot, "prod", "kv", { taken: slot("n2", 0, 5) });
    expect(snapshot.slots.map((entry) => [entry.node, entry.revision])).toEqual([["n1", 7]]);
    applyNotifyDelta(snapshot, "prod", "kv", { freed: { wave: "main", index: 0, revision: 6 } });
    expect(snapshot.slots.map((entry) => [entry.node, entry.revision])).toEqual([["n1", 7]]);
    applyNotifyDelta(snapshot, "prod", "kv", { freed: { wave: "main", index: 0, revision: 7 } });
    expect(snapshot.slots).toEqual([]);
  });

  it("a notify without a delta (desired, control, channel) is not applied: the agent reads the rollout", () => {
    const snapshot = view();
    expect(applyNotifyDelta(snapshot, "prod", "kv", {})).toBe(false);
    expect(snapshot).toEqual(view());
  });
});
