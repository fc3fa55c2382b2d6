import { describe, expect, it } from "vitest";
import { checkDashboardAccess, dashboardUrl, isLoopbackHost, parseListenAddress } from "../coordinator/dashboard/listen-address.ts";
import { availableControls, toRolloutView } from "../coordinator/dashboard/rollout-view.ts";
import type { RolloutPhase, RolloutState } from "../coordinator/rollout/state.ts";

describe("the dashboard's listen address", () => {
  it.each([
    ["127.0.0.1:8080", "127.0.0.1", 8080],
    [":9000", "127.0.0.1", 9000],
    ["[::1]:0", "::1", 0],
    ["0.0.0.0:80", "0.0.0.0", 80],
    ["dash.example:443", "dash.example", 443],
  ])("parses %s", (value, host, port) => {
    expect(parseListenAddress(value)).toEqual({ host, port });
  });

  it.each([["8080"], ["127.0.0.1"], ["127.0.0.1:99999"], ["::1:80"], [""]])("refuses %j", (value) => {
    expect(() => parseListenAddress(value)).toThrow(/--http must be HOST:PORT/);
  });

  it.each([
    ["127.0.0.1", true],
    ["127.3.4.5", true],
    ["localhost", true],
    ["::1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.1", false],
    ["dash.example", false],
  ])("%s is loopback: %s", (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it.each([
    ["127.0.0.1", undefined, undefined],
    ["127.0.0.1", "t", undefined],
    ["0.0.0.0", "t", undefined],
    ["0.0.0.0", undefined, /without a token/],
    ["10.0.0.1", undefined, /without a token/],
    ["127.0.0.1", "", /--http-token is empty/],
  ])("listening on %s with token %j: %s", (host, token, error) => {
    const check = () => checkDashboardAccess({ host, port: 0 }, token);
    if (error) expect(check).toThrow(error);
    else expect(check).not.toThrow();
  });

  it.each([
    ["127.0.0.1", 80, "http://127.0.0.1:80/"],
    ["::1", 81, "http://[::1]:81/"],
    ["0.0.0.0", 82, "http://127.0.0.1:82/"],
  ])("a browser opens %s:%s as %s", (host, port, url) => {
    expect(dashboardUrl(host, port)).toBe(url);
  });
});

describe("which controls the page offers", () => {
  it.each<[RolloutPhase, boolean, string[]]>([
    ["pending", false, ["pause", "abort"]],
    ["running", false, ["pause", "abort"]],
    ["running", true, ["resume", "abort"]],
    ["paused", true, ["resume", "abort"]],
    ["waiting-promote", false, ["pause", "abort", "promote"]],
    ["reverting", false, ["pause", "abort"]],
    ["succeeded", false, []],
    ["failed", false, []],
    ["aborted", true, []],
    ["reverted", false, []],
  ])("%s (pause requested: %s): %j", (phase, pauseRequested, controls) => {
    expect(availableControls({ phase, controls: pauseRequested ? { pause: { by: "op", at: 1 } } : {} })).toEqual(controls);
  });
});

describe("a rollout as the page shows it", () => {
  const rollout = {
    id: "r1",
    cluster: "prod",
    service: "kv",
    target: "1.1.0",
    createdAt: 1,
    createdBy: "op",
    updatedAt: 2,
    strategy: { maxFailures: 1 },
    plan: { hops: [{ from: "1.0.0", to: "1.1.0", mode: "rolling", reason: "minor", canaryBatches: 0, batches: [["n1"], ["n2"]] }] },
    phase: "running",
    cursor: { hop: 0, batch: 1 },
    hops: [
      {
        nodes: {
          n1: { status: "done", track: "forward", attempt: 1, todo: [], onTarget: false, failures: 0 },
          n2: {
            status: "drained",
            track: "forward",
            attempt: 2,
            todo: ["upgrade", "rejoin", "verify"],
            onTarget: false,
            failures: 1,
            inFlight: { step: "upgrade" },
            lastError: { step: "verify", code: "HEALTH_CHECK_FAILED", message: "not healthy", at: 1 },
          },
          n3: { status: "skipped", track: "forward", attempt: 1, todo: [], onTarget: true, failures: 0 },
        },
      },
    ],
    failures: 1,
    controls: {},
    history: [{ at: 1, event: "phase", from: "preflight", to: "running" }],
  } as unknown as RolloutState;

  it("shows each batch's nodes with their step, the current batch, and the nodes already on target apart", () => {
    const view = toRolloutView(rollout);
    expect(view.controls).toEqual(["pause", "abort"]);
    const hop = view.hops[0]!;
    expect(hop.current).toBe(true);
    expect(hop.currentBatch).toBe(1);
    expect(hop.batches.map((batch) => batch.map((node) => node.node))).toEqual([["n1"], ["n2"]]);
    expect(hop.batches[1]![0]).toEqual({ node: "n2", status: "drained", track: "forward", running: "upgrade", attempt: 2, error: "verify: HEALTH_CHECK_FAILED: not healthy" });
    expect(hop.others.map((node) => node.status)).toEqual(["skipped"]);
    expect(view.history[0]!.text).toBe("phase  preflight -> running");
  });
});
