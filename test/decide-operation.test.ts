import { describe, expect, it } from "vitest";
import { decideRollback, decideUpgrade, type OperationView } from "../agent/upgrade/decide-operation.ts";
import type { UpgradeOutcome } from "../shared/types/index.ts";

const committed = (from: string | undefined, to: string, snapshotId?: string): UpgradeOutcome => ({
  result: "committed",
  service: "kv",
  ...(from === undefined ? {} : { from }),
  to,
  active: to,
  hops: [],
  startedAt: "2026-12-01T00:00:00Z",
  finishedAt: "2026-12-01T00:01:00Z",
  ...(snapshotId === undefined ? {} : { snapshotId }),
});

describe("decideUpgrade", () => {
  it.each<[string, OperationView, string, string]>([
    ["another operation runs here", { inFlight: true, current: "1.0.0" }, "1.1.0", "refuse BUSY"],
    ["a halted journal waits for an operator", { inFlight: false, journal: { kind: "upgrade", step: "rb-verify", halted: true }, current: "1.0.0" }, "1.1.0", "refuse WRONG_STATE"],
    ["a journal is on disk (owned elsewhere or interrupted)", { inFlight: false, journal: { kind: "upgrade", step: "migrate" }, current: "1.0.0" }, "1.1.0", "refuse BUSY"],
    ["the target is active already", { inFlight: false, current: "1.1.0" }, "1.1.0", "noop"],
    ["a fresh install", { inFlight: false }, "1.0.0", "start"],
    ["an idle node on another version", { inFlight: false, current: "1.0.0" }, "1.1.0", "start"],
  ])("%s -> %s", (_why, view, to, expected) => {
    const decision = decideUpgrade(view, "kv", to);
    expect(decision.action === "refuse" ? `refuse ${decision.code}` : decision.action).toBe(expected);
  });
});

describe("decideRollback", () => {
  it.each<[string, OperationView, string | undefined, string]>([
    ["another operation runs here", { inFlight: true, current: "1.1.0" }, undefined, "refuse BUSY"],
    ["a halted operation: its rollback is retried", { inFlight: false, journal: { kind: "upgrade", step: "rb-verify", halted: true }, current: "1.1.0" }, undefined, "retry-journal"],
    ["the recovery's version is active and nothing pends", { inFlight: false, current: "1.0.0", last: committed("1.0.0", "1.1.0", "s1") }, "1.0.0", "already-there"],
    ["the last upgrade committed and still runs: undo it", { inFlight: false, current: "1.1.0", last: committed("1.0.0", "1.1.0", "s1") }, undefined, "undo-last 1.0.0 s1"],
    ["a fresh install has nothing to go back to", { inFlight: false, current: "1.0.0", last: committed(undefined, "1.0.0", "s0") }, undefined, "refuse WRONG_STATE"],
    ["never ran anything", { inFlight: false }, undefined, "refuse WRONG_STATE"],
    ["the last operation rolled back already", { inFlight: false, current: "1.0.0", last: { ...committed("1.0.0", "1.1.0", "s1"), result: "rolled-back" } }, undefined, "refuse WRONG_STATE"],
    [
      "the last upgrade went through a finalized release",
      {
        inFlight: false,
        current: "1.1.1",
        last: {
          ...committed("1.0.0", "1.1.1", "s1"),
          hops: [
            { from: "1.0.0", to: "1.1.0" },
            { from: "1.1.0", to: "1.1.1" },
          ],
        },
        finalized: [{ release: "1.1.0", at: "2026-12-01T00:02:00Z" }],
      },
      undefined,
      "refuse FINALIZED",
    ],
    [
      "an earlier release was finalized, the last upgrade is after it",
      { inFlight: false, current: "1.1.1", last: { ...committed("1.1.0", "1.1.1", "s2"), hops: [{ from: "1.1.0", to: "1.1.1" }] }, finalized: [{ release: "1.1.0", at: "2026-12-01T00:02:00Z" }] },
      undefined,
      "undo-last 1.1.0 s2",
    ],
    ["someone switched the release by hand since", { inFlight: false, current: "1.2.0", last: committed("1.0.0", "1.1.0", "s1") }, undefined, "refuse WRONG_STATE"],
  ])("%s -> %s", (_why, view, to, expected) => {
    const decision = decideRollback(view, "kv", to);
    const shown = decision.action === "refuse" ? `refuse ${decision.code}` : decision.action === "undo-last" ? `undo-last ${decision.to} ${decision.snapshotId}` : decision.action;
    expect(shown).toBe(expected);
  });
});
