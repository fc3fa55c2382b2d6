import { describe, expect, it } from "vitest";
import { decideLock, type LockDecision, type LockView, type MigrationRecord } from "../agent/bus/cluster-once-lock.ts";

const me: LockView = { node: "n1", incarnation: "inc-now", runningHere: false, now: 1_000_000, unchangedForMs: undefined };
const running = (over: Partial<MigrationRecord>): MigrationRecord => ({ status: "running", node: "n2", incarnation: "inc-2", at: "", leaseMs: 20_000, expiresAt: me.now + 20_000, ...over });

describe("decideLock: what a node does about the cluster-once record it found", () => {
  it.each<[string, MigrationRecord | undefined, Partial<LockView>, LockDecision]>([
    ["no record: take it", undefined, {}, "take"],
    ["done: skip", running({ status: "done" }), {}, "skip"],
    ["failed: take it over", running({ status: "failed" }), {}, "take"],
    ["another node, just seen: wait", running({}), {}, "wait"],
    ["another node, renewed within the lease: wait", running({}), { unchangedForMs: 19_999 }, "wait"],
    ["another node, unchanged for a whole lease: take over", running({}), { unchangedForMs: 20_000 }, "take"],
    ["another node, unchanged for a lease although its expiresAt (its clock) is far ahead: take over", running({ expiresAt: me.now + 3_600_000 }), { unchangedForMs: 20_000 }, "take"],
    ["another node's old record without a lease, not expired: wait", running({ leaseMs: undefined, incarnation: undefined }), { unchangedForMs: 60_000 }, "wait"],
    ["another node's old record without a lease, expired: take over", running({ leaseMs: undefined, expiresAt: me.now - 1 }), {}, "take"],
    ["this node, an earlier incarnation (the agent restarted): take over at once", running({ node: "n1", incarnation: "inc-before" }), {}, "take"],
    ["this node, no incarnation recorded (older agent): take over at once", running({ node: "n1", incarnation: undefined }), {}, "take"],
    ["this process, while its run goes on: wait", running({ node: "n1", incarnation: "inc-now" }), { runningHere: true }, "wait"],
    ["this process, no run going on (a write did not land): take over", running({ node: "n1", incarnation: "inc-now" }), {}, "take"],
  ])("%s", (_name, record, view, expected) => {
    expect(decideLock(record, { ...me, ...view })).toBe(expected);
  });
});
