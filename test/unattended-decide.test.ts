import { describe, expect, it } from "vitest";
import { catalogSchema } from "../shared/catalog/index.ts";
import {
  decideUnattended,
  desiredRolloutSchema,
  pinRefusal,
  rolloutStatus,
  simulateRollout,
  windowPosition,
  assignWaves,
  slotCount,
  type Control,
  type DesiredRolloutInput,
  type FleetView,
  type NodeReport,
  type ResolvedDesired,
} from "../shared/unattended/index.ts";

const T0 = Date.parse("2026-03-02T12:00:00Z"); // a Monday

function desired(overrides: Partial<DesiredRolloutInput> = {}): ResolvedDesired {
  const doc = desiredRolloutSchema.parse({
    cluster: "prod",
    service: "kv",
    target: "1.1.0",
    unknownAfter: "1m",
    waves: [
      { name: "canary", select: { labels: { ring: "canary" } }, maxInFlight: 1, soakAfter: "10m" },
      { name: "rest", maxInFlight: 2 },
    ],
    ...overrides,
  });
  return { doc, target: doc.target, setAt: T0 - 3_600_000 };
}

function report(node: string, version: string, extra: Partial<NodeReport> = {}): NodeReport {
  return { node, labels: node === "c1" ? { ring: "canary" } : {}, version, state: "idle", reason: "", seenAt: T0, durationsMs: [], backoffAttempts: 0, ...extra };
}

const control = (extra: Partial<Control> = {}): Control => ({ quarantined: {}, failures: [], holds: {}, pins: {}, releases: [], ...extra });

function fleet(nodes: NodeReport[], extra: Partial<FleetView> = {}): FleetView {
  return { nodes, slots: [], control: control(), ...extra };
}

const canaryDone = [report("c1", "1.1.0", { reachedAt: T0 - 3_600_000 }), report("n1", "1.0.0"), report("n2", "1.0.0"), report("n3", "1.0.0")];
const canaryPending = [report("c1", "1.0.0"), report("n1", "1.0.0"), report("n2", "1.0.0")];
const slot = (node: string, wave: string, index: number, charged = false) => ({ node, wave, version: "1.1.0", since: T0, heartbeatAt: T0, step: "upgrade", index, ...(charged ? { charged: { at: T0, reason: "silent" } } : {}) });

describe("decideUnattended", () => {
  it.each([
    { name: "acts on the canary first", node: "c1", version: "1.0.0", fleet: fleet(canaryPending), expect: { action: "act", wave: "canary", slot: 0, to: "1.1.0" } },
    { name: "already on target", node: "c1", version: "1.1.0", fleet: fleet(canaryDone), expect: { action: "wait", reason: "on-target" } },
    { name: "later wave waits for the earlier one", node: "n1", version: "1.0.0", fleet: fleet(canaryPending), expect: { action: "wait", reason: "previous-wave" } },
    {
      name: "soak after the canary wave",
      node: "n1",
      version: "1.0.0",
      fleet: fleet([report("c1", "1.1.0", { reachedAt: T0 - 60_000 }), report("n1", "1.0.0")]),
      expect: { action: "wait", reason: "soaking", nextEligibleAt: T0 - 60_000 + 600_000 },
    },
    { name: "second wave after soak", node: "n1", version: "1.0.0", fleet: fleet(canaryDone), expect: { action: "act", wave: "rest", slot: 0 } },
    { name: "slots full", node: "n3", version: "1.0.0", fleet: fleet(canaryDone, { slots: [slot("n1", "rest", 0), slot("n2", "rest", 1)] }), expect: { action: "wait", reason: "slots-full" } },
    {
      name: "a charged slot keeps its capacity",
      node: "n3",
      version: "1.0.0",
      fleet: fleet(canaryDone, { slots: [slot("n1", "rest", 0, true), slot("n2", "rest", 1)], control: control({ failures: [{ node: "n1", version: "1.1.0", kind: "unknown", reason: "silent", at: T0 }] }) }),
      desired: desired({ failureBudget: { maxFailed: 3 } }),
      expect: { action: "wait", reason: "slots-full" },
    },
    { name: "free slot index", node: "n3", version: "1.0.0", fleet: fleet(canaryDone, { slots: [slot("n1", "rest", 0)] }), expect: { action: "act", slot: 1 } },
    {
      name: "holder resumes its slot",
      node: "n1",
      version: "1.0.0",
      fleet: fleet(canaryDone, { slots: [slot("n1", "rest", 1)], control: control({ suspended: { reason: "x", at: T0, by: "op" } }) }),
      expect: { action: "act", slot: 1, holding: true },
    },
    { name: "suspended", node: "c1", version: "1.0.0", fleet: fleet(canaryPending, { control: control({ suspended: { reason: "operator", at: T0, by: "op" } }) }), expect: { action: "wait", reason: "suspended" } },
    { name: "suspended by document mode", node: "c1", version: "1.0.0", fleet: fleet(canaryPending), desired: desired({ mode: "suspended" }), expect: { action: "wait", reason: "suspended" } },
    {
      name: "held until",
      node: "c1",
      version: "1.0.0",
      fleet: fleet(canaryPending, { control: control({ holds: { c1: { until: T0 + 5000, reason: "audit" } } }) }),
      expect: { action: "wait", reason: "held", nextEligibleAt: T0 + 5000 },
    },
    { name: "hold expired", node: "c1", version: "1.0.0", fleet: fleet(canaryPending, { control: control({ holds: { c1: { until: T0 - 1, reason: "audit" } } }) }), expect: { action: "act" } },
    { name: "pinned on its version", node: "n1", version: "1.0.0", fleet: fleet(canaryDone, { control: control({ pins: { n1: "1.0.0" } }) }), expect: { action: "wait", reason: "pinned" } },
    { name: "quarantined target", node: "c1", version: "1.0.0", fleet: fleet(canaryPending, { control: control({ quarantined: { "1.1.0": { at: T0, nodes: ["x"] } } }) }), expect: { action: "wait", reason: "quarantined" } },
    {
      name: "budget spent",
      node: "n1",
      version: "1.0.0",
      fleet: fleet(canaryDone, { control: control({ failures: [{ node: "n9", version: "1.1.0", kind: "unknown", reason: "silent", at: T0 }] }) }),
      expect: { action: "wait", reason: "budget-spent" },
    },
    {
      name: "budget by percent",
      node: "n1",
      version: "1.0.0",
      desired: desired({ failureBudget: { maxFailed: 10, maxFailedPercent: 20 } }),
      fleet: fleet(canaryDone, { control: control({ failures: [{ node: "n2", version: "1.1.0", kind: "version-suspect", reason: "health", at: T0 }] }) }),
      expect: { action: "wait", reason: "budget-spent" },
    },
    {
      name: "failed here before",
      node: "n1",
      version: "1.0.0",
      desired: desired({ failureBudget: { maxFailed: 5 } }),
      fleet: fleet(canaryDone, { control: control({ failures: [{ node: "n1", version: "1.1.0", kind: "version-suspect", reason: "health", at: T0 }] }) }),
      expect: { action: "wait", reason: "failed-here" },
    },
    { name: "environment back-off", node: "c1", version: "1.0.0", backoffUntil: T0 + 1000, fleet: fleet(canaryPending), expect: { action: "wait", reason: "backoff", nextEligibleAt: T0 + 1000 } },
    {
      name: "a node no wave selects falls into the last wave (not left waiting forever)",
      node: "x1",
      version: "1.0.0",
      desired: desired({
        waves: [
          { name: "canary", select: { labels: { ring: "canary" } } },
          { name: "site-a", select: { labels: { site: "a" } }, maxInFlight: 2 },
        ],
      }),
      fleet: fleet(canaryDone),
      expect: { action: "act", wave: "site-a" },
    },
    {
      name: "channel without version",
      node: "c1",
      version: "1.0.0",
      desired: { ...desired({ target: undefined, channel: "stable" }), target: undefined },
      fleet: fleet(canaryPending),
      expect: { action: "wait", reason: "no-target" },
    },
    {
      name: "rollback reverses the waves",
      node: "n1",
      version: "1.1.0",
      fleet: fleet([report("c1", "1.1.0"), report("n1", "1.1.0")], { control: control({ rollback: { to: "1.0.0", from: "1.1.0", at: T0 } }) }),
      expect: { action: "act", kind: "rollback", to: "1.0.0", wave: "rest" },
    },
    {
      name: "rollback: canary waits for the rest",
      node: "c1",
      version: "1.1.0",
      fleet: fleet([report("c1", "1.1.0"), report("n1", "1.1.0")], { control: control({ rollback: { to: "1.0.0", from: "1.1.0", at: T0 } }) }),
      expect: { action: "wait", reason: "previous-wave" },
    },
    {
      name: "offline member does not block a wave",
      node: "n1",
      version: "1.0.0",
      fleet: fleet([report("c1", "1.1.0", { reachedAt: 0 }), report("c2", "1.0.0", { labels: { ring: "canary" }, seenAt: T0 - 120_000 }), report("n1", "1.0.0")]),
      expect: { action: "act", wave: "rest" },
    },
  ])("$name", ({ node, version, fleet: view, desired: given, backoffUntil, expect: expected }) => {
    const labels: Record<string, string> = node === "c1" ? { ring: "canary" } : {};
    const decision = decideUnattended(given ?? desired(), { node, labels, version, backoffUntil }, view, T0);
    expect(decision).toMatchObject(expected);
  });

  describe("windows", () => {
    // 02:00-05:00 Europe/Berlin, cutoff 30m; on 2026-03-02 Berlin is UTC+1, so 01:00Z-04:00Z (starts until 03:30Z).
    const nightly = { days: ["*" as const], start: "02:00", duration: "3h", timezone: "Europe/Berlin", cutoff: "30m" };
    const windowed = desired({ waves: [{ name: "all", window: nightly, maxInFlight: 1 }] });
    const nodes = [report("n1", "1.0.0"), report("n2", "1.0.0")];
    it.each([
      { at: "2026-03-02T00:59:00Z", expect: { action: "wait", reason: "outside-window", nextEligibleAt: Date.parse("2026-03-02T01:00:00Z") } },
      { at: "2026-03-02T01:00:00Z", expect: { action: "act" } },
      { at: "2026-03-02T03:29:00Z", expect: { action: "act" } },
      { at: "2026-03-02T03:30:00Z", expect: { action: "wait", reason: "outside-window", nextEligibleAt: Date.parse("2026-03-03T01:00:00Z") } },
      // Summer time: Berlin is UTC+2, the window opens at 00:00Z.
      { at: "2026-07-01T00:30:00Z", expect: { action: "act" } },
      { at: "2026-07-01T03:00:00Z", expect: { action: "wait", reason: "outside-window", nextEligibleAt: Date.parse("2026-07-02T00:00:00Z") } },
    ])("at $at", ({ at, expect: expected }) => {
      expect(decideUnattended(windowed, { node: "n1", labels: {}, version: "1.0.0" }, fleet(nodes), Date.parse(at))).toMatchObject(expected);
    });

    it("late arrivers go immediately when the policy says so, else wait for the window", () => {
      const late = [report("n1", "1.0.0"), report("n2", "1.1.0")];
      const at = Date.parse("2026-03-02T12:00:00Z");
      const immediately = desired({ waves: [{ name: "all", window: nightly }], lateArrivers: { policy: "immediately" } });
      expect(decideUnattended(immediately, { node: "n1", labels: {}, version: "1.0.0" }, fleet(late), at)).toMatchObject({ action: "act" });
      const nextWindow = desired({ waves: [{ name: "all", window: nightly }] });
      expect(decideUnattended(nextWindow, { node: "n1", labels: {}, version: "1.0.0" }, fleet(late), at)).toMatchObject({ reason: "outside-window" });
      const never = desired({ waves: [{ name: "all", window: nightly }], lateArrivers: { policy: "never", mustBy: "2026-03-02T11:00:00Z" } });
      expect(decideUnattended(never, { node: "n1", labels: {}, version: "1.0.0" }, fleet(late), at)).toMatchObject({ action: "act" });
      const neverYet = desired({ waves: [{ name: "all", window: nightly }], lateArrivers: { policy: "never" } });
      expect(decideUnattended(neverYet, { node: "n1", labels: {}, version: "1.0.0" }, fleet(late), at)).toMatchObject({ reason: "late-arriver-never" });
    });

    it("weekdays and DST in New York", () => {
      const weekly = { days: ["Sun" as const], start: "02:30", duration: "1h", timezone: "America/New_York", cutoff: 0 };
      // 2026-03-08 is the Sunday DST starts in the US: 02:30 does not exist, the window opens just after the gap (03:30 EDT = 07:30Z).
      expect(windowPosition(desiredRolloutSchema.shape.waves.element.shape.window.unwrap().parse(weekly), Date.parse("2026-03-07T12:00:00Z"))).toEqual({ open: false, opensAt: Date.parse("2026-03-08T07:30:00Z") });
      // Next Sunday: 02:30 EDT = 06:30Z.
      expect(windowPosition(desiredRolloutSchema.shape.waves.element.shape.window.unwrap().parse(weekly), Date.parse("2026-03-09T12:00:00Z"))).toEqual({ open: false, opensAt: Date.parse("2026-03-15T06:30:00Z") });
    });
  });

  it("samples canaries across labels, the same for every reader", () => {
    const nodes = ["a1", "a2", "a3", "b1", "b2", "b3"].map((node) => ({ node, labels: { site: node[0]! } }));
    const waves = desiredRolloutSchema.parse({ cluster: "c", service: "kv", target: "1.0.0", waves: [{ name: "canary", select: { sample: { count: 2, spreadBy: ["site"] } } }, { name: "rest" }] }).waves;
    const first = assignWaves(waves, nodes, "seed");
    const canaries = [...first.entries()].filter(([, wave]) => wave === "canary").map(([node]) => node);
    expect(canaries).toHaveLength(2);
    expect(new Set(canaries.map((node) => node[0])).size).toBe(2);
    expect(assignWaves(waves, [...nodes].reverse(), "seed")).toEqual(first);
    expect(slotCount("50%", 5)).toBe(2);
    expect(slotCount("10%", 3)).toBe(1);
  });

  describe("nodes outside every selector, and nodes that never reported", () => {
    const labelled = desired({
      waves: [
        { name: "canary", select: { labels: { ring: "canary" } }, soakAfter: "10m" },
        { name: "site-a", select: { labels: { site: "a" } }, maxInFlight: 1 },
      ],
    });

    it("assignWaves puts nodes no selector takes into the last wave, so its size and slots count them", () => {
      const nodes: { node: string; labels: Record<string, string> }[] = [
        { node: "c1", labels: { ring: "canary" } },
        { node: "a1", labels: { site: "a" } },
        { node: "b1", labels: { site: "b" } },
        { node: "x1", labels: {} },
      ];
      expect(Object.fromEntries(assignWaves(labelled.doc.waves, nodes, "seed"))).toEqual({ c1: "canary", a1: "site-a", b1: "site-a", x1: "site-a" });
    });

    it("a node that never reported is in no wave's count: the wave completes without it, and when it reports it is a late arriver of its wave", () => {
      // The rollout ran while n9 was off: the canary and site-a are done.
      const ran = [report("c1", "1.1.0", { reachedAt: T0 - 3_600_000 }), report("a1", "1.1.0", { labels: { site: "a" }, reachedAt: T0 - 1_800_000 })];
      const nightly = { days: ["*" as const], start: "02:00", duration: "1h", timezone: "UTC" };
      const windowed = desired({ waves: [labelled.doc.waves[0]!, { ...labelled.doc.waves[1]!, window: desiredRolloutSchema.shape.waves.element.shape.window.unwrap().parse(nightly) }] });
      // Another site-a node deciding sees the wave complete (n9 is unknown, not pending).
      expect(decideUnattended(windowed, { node: "a1", labels: { site: "a" }, version: "1.1.0" }, fleet(ran), T0)).toMatchObject({ action: "wait", reason: "on-target", wave: "site-a" });
      // n9 comes back with labels no selector takes: it is in the last wave, a late arriver there (nextWindow by default) ...
      expect(decideUnattended(windowed, { node: "n9", labels: { site: "z" }, version: "1.0.0" }, fleet(ran), T0)).toMatchObject({
        action: "wait",
        reason: "outside-window",
        wave: "site-a",
        nextEligibleAt: Date.parse("2026-03-03T02:00:00Z"),
      });
      // ... and with lateArrivers: immediately it goes at once.
      const immediately = { ...windowed, doc: { ...windowed.doc, lateArrivers: { policy: "immediately" as const } } };
      expect(decideUnattended(immediately, { node: "n9", labels: { site: "z" }, version: "1.0.0" }, fleet(ran), T0)).toMatchObject({ action: "act", wave: "site-a", slot: 0 });
    });

    it("status lists nodes the inventory knows that have no report as not reporting, apart from the waves", () => {
      const snapshot = { stored: { value: { text: "{}", setAt: T0 }, revision: 3 }, control: { value: control(), revision: 1 }, nodes: canaryDone, slots: [] };
      const known = [
        { node: "n1", version: "1.0.0", seenAt: T0 },
        { node: "n9", version: "1.0.0", seenAt: T0 - 90_000 },
        { node: "n8", seenAt: T0 - 1000 },
      ];
      const status = rolloutStatus(labelled, snapshot, T0, known);
      expect(status.notReporting).toEqual([
        { node: "n8", seenAgoMs: 1000 },
        { node: "n9", version: "1.0.0", seenAgoMs: 90_000 },
      ]);
      expect(status.nodes.map((node) => node.node)).not.toContain("n9");
      expect(status.waves.reduce((sum, wave) => sum + wave.nodes, 0)).toBe(canaryDone.length);
      expect(rolloutStatus(labelled, snapshot, T0).notReporting).toEqual([]);
    });
  });

  describe("pinRefusal: a pin the node could never carry out is refused at pin time", () => {
    const release = (version: string) => ({ version, artifact: { url: `kv-${version}.tar.gz`, sha256: "0".repeat(64) } });
    // Catalog order, not semver, is the engine's order.
    const catalog = catalogSchema.parse({ services: { kv: { releases: ["1.0.0", "1.1.0", "1.10.0", "1.2.0"].map(release) } } });
    it.each([
      { name: "older than it runs", running: "1.10.0", pin: "1.1.0", code: "DOWNGRADE_REFUSED", message: /n1 runs 1\.10\.0, and 1\.1\.0 is older.*rollback --to 1\.1\.0/ },
      { name: "not in the catalog", running: "1.0.0", pin: "9.9.9", code: "NOT_FOUND", message: /9\.9\.9 is not in the pushed catalog/ },
      { name: "what it runs", running: "1.1.0", pin: "1.1.0" },
      { name: "newer (by catalog order)", running: "1.10.0", pin: "1.2.0" },
      { name: "no report yet", running: undefined, pin: "1.0.0" },
    ])("$name", ({ running, pin, code, message }) => {
      const refusal = pinRefusal(catalog, "kv", "n1", running, pin);
      if (code === undefined) expect(refusal).toBeUndefined();
      else expect(refusal).toMatchObject({ code, message: expect.stringMatching(message) });
    });
    it("without a pushed catalog the order is unknown: allowed", () => {
      expect(pinRefusal(undefined, "kv", "n1", "1.1.0", "1.0.0")).toBeUndefined();
    });
  });

  it("schema errors name their path", () => {
    const result = desiredRolloutSchema.safeParse({ cluster: "c", service: "kv", waves: [{ name: "w", maxInFlight: "120%", window: { days: ["Mon"], start: "25:00", duration: "1h", timezone: "Mars/Olympus" } }] });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((issue) => issue.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["target", "waves.0.maxInFlight", "waves.0.window.start", "waves.0.window.timezone"]));
  });
});

describe("simulateRollout", () => {
  const snapshotOf = (nodes: NodeReport[]) => ({ control: { value: control(), revision: 0 }, nodes, slots: [] });

  it("forecasts from windows and observed durations and names a wave that cannot finish inside its window", () => {
    const plan = desired({
      waves: [
        { name: "canary", select: { labels: { ring: "canary" } }, soakAfter: "1h" },
        { name: "rest", maxInFlight: 1, window: { days: ["*"], start: "01:00", duration: "1h", timezone: "UTC" } },
      ],
    });
    const nodes = [report("c1", "1.0.0", { durationsMs: [1_800_000] }), report("n1", "1.0.0"), report("n2", "1.0.0"), report("n3", "1.0.0")];
    const simulation = simulateRollout(plan, snapshotOf(nodes), T0, 60_000);
    expect(simulation).toMatchObject({ durationMs: 1_800_000, durationFrom: "observed" });
    expect(simulation.nodes.find((node) => node.node === "c1")).toMatchObject({ startAt: T0, endAt: T0 + 1_800_000 });
    // The rest: one at a time, 30 min each, in a 1 h window from 01:00 UTC: two per night, so three need two nights.
    const rest = simulation.nodes.filter((node) => node.wave === "rest").map((node) => new Date(node.startAt).toISOString());
    expect(rest).toEqual(["2026-03-03T01:00:00.000Z", "2026-03-03T01:30:00.000Z", "2026-03-04T01:00:00.000Z"]);
    expect(simulation.waves.find((wave) => wave.name === "rest")).toMatchObject({ openings: 2, overrun: expect.stringMatching(/2 window openings/) });
    expect(simulation.waves.find((wave) => wave.name === "canary")!.overrun).toBeUndefined();
  });
});
