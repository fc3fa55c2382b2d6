import { afterEach, describe, expect, it } from "vitest";
import { runZeroDowntimeScenario, type ScenarioOptions, type ScenarioResult } from "../scripts/demo/scenario.ts";

/**
 * The demo's scenario (scripts/demo/scenario.ts), run for real: nats-server, three `hoist agent run`
 * processes managing kv, HAProxy in front, load through HAProxy the whole time, `hoist rollout start`.
 * The drain/rejoin hooks take each node out of HAProxy (drain, sessions to 0, maint) before it
 * stops and put it back (ready) after its health held, so no request may fail.
 */

let running: { controller: AbortController; result: Promise<unknown> } | undefined;
const output: string[] = [];

/** Stops the scenario (and so every process it started) even when the test timed out or failed. */
afterEach(async () => {
  const current = running;
  running = undefined;
  output.length = 0;
  if (!current) return;
  current.controller.abort();
  await current.result.catch(() => undefined);
});

function run(options: Omit<ScenarioOptions, "log" | "signal">): Promise<ScenarioResult> {
  const controller = new AbortController();
  const result = runZeroDowntimeScenario({ ...options, log: (line) => output.push(line), signal: controller.signal });
  running = { controller, result };
  return result;
}

/**
 * No request ever reached a node that was not listening: HAProxy had no connection error to any
 * server and never had to retry or redispatch. Without the drain hooks the retry net catches those
 * requests (hundreds of redispatches in the same scenario, still 0 failed requests), so this is what
 * proves the drain, not just the retries, kept users away from stopped nodes.
 */
function expectNoRequestReachedAStoppedNode(result: ScenarioResult): void {
  for (const [server, counters] of Object.entries(result.haproxyCounters)) {
    expect(counters, `HAProxy counters of ${server}`).toEqual({ connectErrors: 0, responseErrors: 0, retries: 0, redispatches: 0 });
  }
}

function describeRun(result: ScenarioResult): string {
  return `${result.load.failures.map((failure) => `${failure.method} ${failure.path}: ${failure.what}`).join("\n")}\n--- output ---\n${output.slice(-200).join("\n")}`;
}

describe("zero-downtime rolling upgrade behind HAProxy (real agents, nats-server, HAProxy and load)", () => {
  it("upgrades 3 nodes 1.0.0 -> 1.1.0 -> 1.1.1 under load: no request fails, each node leaves rotation once per hop, all end on 1.1.1", async () => {
    const result = await run({ from: "1.0.0", to: "1.1.1" });

    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.rollout.phase).toBe("succeeded");
    expect(result.hops.map((hop) => `${hop.from}->${hop.to}`)).toEqual(["1.0.0->1.1.0", "1.1.0->1.1.1"]);
    expect(result.versions).toEqual({ n1: "1.1.1", n2: "1.1.1", n3: "1.1.1" });
    expect(result.load.sent).toBeGreaterThan(500);
    expect(result.load.failed, describeRun(result)).toBe(0);
    expect(result.load.ok).toBe(result.load.sent);
    // Every node served through HAProxy, and was really taken out of rotation (and its kv really stopped) in each hop.
    for (const node of ["n1", "n2", "n3"]) expect(result.load.byServer[node] ?? 0).toBeGreaterThan(0);
    for (const node of result.downtime) {
      expect(node.outOfRotationPeriods, node.node).toBe(2);
      expect(node.notServingPeriods, node.node).toBeGreaterThanOrEqual(1);
    }
    expect(result.haproxyAfter).toEqual({ n1: "UP", n2: "UP", n3: "UP" });
    expectNoRequestReachedAStoppedNode(result);
    expect(result.inventoryAfter).toMatch(/n1\s+kv\s+1\.1\.1/);
  }, 200_000);

  it("halts a rollout to the broken 1.2.0 after the first node: that node is rolled back to 1.1.1 and back in rotation, no request fails", async () => {
    const result = await run({ from: "1.1.1", to: "1.2.0" });

    expect(result.exitCode, describeRun(result)).toBe(1);
    expect(result.rollout.phase).toBe("failed");
    expect(result.rollout.failure?.code).toBe("HEALTH_CHECK_FAILED");
    const hop = result.rollout.hops[0]!.nodes;
    expect(hop.n1!.status).toBe("rolled-back");
    expect(hop.n2!.status).toBe("pending");
    expect(hop.n3!.status).toBe("pending");
    expect(result.versions).toEqual({ n1: "1.1.1", n2: "1.1.1", n3: "1.1.1" });
    expect(result.load.sent).toBeGreaterThan(200);
    expect(result.load.failed, describeRun(result)).toBe(0);
    // n1 went out of rotation once and is back; the others never left.
    expect(result.haproxyAfter).toEqual({ n1: "UP", n2: "UP", n3: "UP" });
    expectNoRequestReachedAStoppedNode(result);
    const downtime = Object.fromEntries(result.downtime.map((node) => [node.node, node]));
    expect(downtime.n1!.outOfRotationPeriods).toBe(1);
    expect(downtime.n2!.outOfRotationPeriods).toBe(0);
    expect(downtime.n3!.outOfRotationPeriods).toBe(0);
  }, 200_000);
});
